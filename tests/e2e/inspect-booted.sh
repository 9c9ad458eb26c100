#!/usr/bin/env bash
# inspect on fixtures/out/nano-booted.vhd against its facts (see inspect-fixture.sh):
# an image that booted once reports the SMBIOS UUID of HardwareConfig\LastConfig.
exec bash "$SRCDIR/tests/e2e/inspect-fixture.sh" nano-booted
