#!/usr/bin/env bash
# tests/e2e/build-gpt.sh again on the libguestfs backend (--sandbox), where
# the appliance's ntfsresize and the guest session do the work: every file
# of every volume compared (volcompare), sgdisk -v, GUIDs and places.  Only
# nano-gpt-recovery, whose Recovery partition moves (a launch costs 12-17 s).
BOXWRIGHT_BACKEND=guestfs BW_LAYOUT_CASES=moves exec bash "$SRCDIR/tests/e2e/build-gpt.sh"
