#!/usr/bin/env bash
# inspect on fixtures/out/nano-sysreserved63.vhd against its facts (see inspect-fixture.sh).
exec bash "$SRCDIR/tests/e2e/inspect-fixture.sh" nano-sysreserved63
