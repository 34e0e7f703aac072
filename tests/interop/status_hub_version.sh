#!/usr/bin/env bash
# Contract 14: every StatusReply carries the hub's version (hub_version = 16),
# an answer and a refused request alike.
source "$(dirname "$0")/interop_lib.sh"

hub_config; hub_start
client status_hub_version.py
say "status replies carry hub_version"
