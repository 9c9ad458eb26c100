#!/usr/bin/env bash
# tests/e2e/patch-inplace.sh again on the libguestfs backend (--sandbox): every e2e
# test of build and patch runs on both backends.
BOXWRIGHT_BACKEND=guestfs exec bash "$SRCDIR/tests/e2e/patch-inplace.sh"
