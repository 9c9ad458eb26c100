#!/usr/bin/env bash
# tests/e2e/build-sysreserved.sh again on the libguestfs backend
# (--sandbox): BCD devices and MountedDevices at the new places, the boot
# partition byte for byte, every file of both volumes compared (volcompare).
# Only nano-sysreserved63, where both partitions move (a launch costs
# 12-17 s).
BOXWRIGHT_BACKEND=guestfs BW_LAYOUT_CASES=moves exec bash "$SRCDIR/tests/e2e/build-sysreserved.sh"
