#!/usr/bin/env bash
# Every StatusReply carries the protocol version the hub speaks (its version field),
# an answer and a refused request alike.
source "$(dirname "$0")/interop_lib.sh"

hub_config; hub_start
client status_states_version.py
say "status replies carry the version the hub speaks"
