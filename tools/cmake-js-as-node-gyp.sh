#!/bin/sh
# prebuildify calls "<node-gyp> rebuild ..."; we build with cmake-js instead (no header download needed,
# the addon is Node-API only). prebuildify then takes build/Release/*.node.
exec node "$(dirname "$0")/build-native.mjs"
