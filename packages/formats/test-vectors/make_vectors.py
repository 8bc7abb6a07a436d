#!/usr/bin/env python3
"""Small CPython/numpy-written test vectors for @pixel3dmm/formats (run: python3 make_vectors.py).

Written by CPython's pickle, numpy and zipfile, independently of the TypeScript code they test.
Expected values are in the test files (they are simple: aranges, eyes, a fixed dict).
"""
import io, os, pickle, zipfile
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
os.chdir(here)

# .npy, every supported dtype: (arange(5) - 2).astype(dt)
for dt in ['<f8', '<f4', '<i8', '<u8', '<i4', '<u4', '<i2', '<u2', '|i1', '|u1']:
    np.save('npy_' + dt[1:] + '.npy', (np.arange(5) - 2).astype(dt))
np.save('npy_b1.npy', np.array([True, False, True]))
np.save('npy_f8_2x3.npy', np.arange(6, dtype='<f8').reshape(2, 3) / 7)
np.save('npy_scalar.npy', np.float64(3.5))
np.save('npy_empty.npy', np.zeros((0, 3), '<f4'))
np.save('npy_fortran.npy', np.asfortranarray(np.arange(6.).reshape(2, 3)))
np.save('npy_bigendian.npy', np.arange(3, dtype='>f8'))
for v in [(2, 0), (3, 0)]:
    with open('npy_v%d.npy' % v[0], 'wb') as f:
        np.lib.format.write_array(f, np.arange(4, dtype='<i4'), version=v)
a = np.empty((), dtype=object); a[()] = {'k': np.arange(3), 's': 'x', 'f': np.eye(2, dtype='<f4')}
np.save('npy_object_dict.npy', a, allow_pickle=True)
b = np.empty((2,), dtype=object); b[0] = 1; b[1] = 'two'
np.save('npy_object_vec.npy', b, allow_pickle=True)

# .npz: stored, deflated, and a ZIP with data descriptors (written to a non-seekable stream)
np.savez('npz_stored.npz', a=np.arange(4, dtype='<i8'), b=np.eye(2))
np.savez_compressed('npz_deflated.npz', a=np.arange(100, dtype='<i8'), b=np.eye(3, dtype='<f4'))
class NonSeekable(io.RawIOBase):
    def __init__(self): self.b = bytearray()
    def writable(self): return True
    def write(self, d): self.b += d; return len(d)
ns = NonSeekable()
with zipfile.ZipFile(ns, 'w', compression=zipfile.ZIP_DEFLATED) as z:
    with z.open('x.npy', 'w') as f:
        np.lib.format.write_array(f, np.arange(5, dtype='<u2'))
open('npz_descriptor.npz', 'wb').write(bytes(ns.b))

# pickles of one dict in every protocol
v = {'s': 'h\xe9llo\n\'"\\', 'b': b'\x00\xff\\\'\n', 'i': [-1, 255, 65536, 2**31, -2**31 - 1, 2**70, -2**70],
     'f': [1.5, float('inf'), -0.0, 1e-300], 't': (1, (2,), ()), 'set': {1, 2}, 'fs': frozenset([3]),
     'a': np.arange(6, dtype='<i4').reshape(2, 3), 'n': None, 'T': True, 'F': False,
     'u': 'snow\u2603man \U0001F600', 'ba': bytearray(b'xy'), 'sc': np.float64(2.25), 'si': np.int64(-7)}
for p in range(6):
    open('pickle_py3_p%d.pkl' % p, 'wb').write(pickle.dumps(v, protocol=p))
arr = np.arange(3.)
open('pickle_shared.pkl', 'wb').write(pickle.dumps([arr, arr, {'k': arr}], protocol=2))
