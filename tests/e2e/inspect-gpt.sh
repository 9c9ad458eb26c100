#!/usr/bin/env bash
# fixtures/out/nano-gpt.vhdx (Convert-WindowsImage's UEFI layout: ESP, MSR,
# Windows) against its facts (see inspect-gpt-fixture.sh).
exec bash "$SRCDIR/tests/e2e/inspect-gpt-fixture.sh" nano-gpt
