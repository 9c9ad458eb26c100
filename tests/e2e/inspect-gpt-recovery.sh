#!/usr/bin/env bash
# fixtures/out/nano-gpt-recovery.vhd (ESP, MSR, Windows, Recovery) against
# its facts (see inspect-gpt-fixture.sh).
exec bash "$SRCDIR/tests/e2e/inspect-gpt-fixture.sh" nano-gpt-recovery
