#!/usr/bin/env bash
# The image's drivers decide each provider's hardware (DESIGN.md
# "Correctness rules", last bullet).  Copies of the fixtures patched with
# .reg files (and stub driver files through --copy-in) add or disable
# driver services; for each, inspect --json's drivers[] and hardware[] are
# checked against the image read by other code (qemu-img, ntfsls/ntfscat,
# hivex: drivers_check.py) and against what the test expects: AHCI makes
# libvirt's and VMware's bus sata, Hyper-V's drivers make the hyperv boxes
# ok, IDE drivers disabled (Start=4) leave VirtualBox without a disk.
# Then build: libvirt's Vagrantfile bus, build's own --reg/--copy-in
# counted, the drivers-missing-<provider> warnings, --strict exit 3.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
need_fixture nano-cs2.vhd
D='\Windows\System32\drivers'
reg() {   # FILE KEY=VALUE-LINES...: a regedit 5 file under Services
  local f=$1; shift
  printf 'Windows Registry Editor Version 5.00\r\n\r\n' > "$f"
  printf '%s\r\n' "$@" >> "$f"
}
mkdir -p "$SCRATCH/stub"
for f in storahci.sys vmbus.sys storvsc.sys netvsc.sys; do echo "stub $f" > "$SCRATCH/stub/$f"; done
S='[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services'
# storahci exists in the fixtures as Windows leaves it unused (Start 3, no
# file); letter case of the key differs from the hive's on purpose
reg "$SCRATCH/ahci.reg" "$S\\STORAHCI]" '"Start"=dword:00000000'
reg "$SCRATCH/hv.reg" "$S\\NetVsc]" '"Start"=dword:00000003' '"Type"=dword:00000001' \
  '"ImagePath"=hex(2):53,00,79,00,73,00,74,00,65,00,6d,00,33,00,32,00,5c,00,64,00,72,00,69,00,76,00,65,00,72,00,73,00,5c,00,6e,00,65,00,74,00,76,00,73,00,63,00,2e,00,73,00,79,00,73,00,00,00'
reg "$SCRATCH/noide.reg" "$S\\intelide]" '"Start"=dword:00000004' "" "$S\\PCIIDE]" '"Start"=dword:00000004'

# check IMAGE LABEL WANT...: inspect --json IMAGE against the image itself
check() {
  local img=$1 label=$2; shift 2
  if ! "$BOXWRIGHT" inspect --json "$img" > "$SCRATCH/$label.json" 2> "$SCRATCH/err"; then
    bad "$label: inspect failed: $(cat "$SCRATCH/err")"; return
  fi
  rm -rf "$SCRATCH/x" && mkdir "$SCRATCH/x"
  qemu-img convert -O raw "$img" "$SCRATCH/x/disk.raw" || { bad "$label: qemu-img"; return; }
  local start sectors
  read -r start sectors < <($PY -c "import sys,struct; d=open(sys.argv[1],'rb').read(512); print(*struct.unpack_from('<II',d,0x1BE+8))" "$SCRATCH/x/disk.raw")
  dd if="$SCRATCH/x/disk.raw" of="$SCRATCH/x/part.img" bs=4M iflag=skip_bytes,count_bytes \
     skip=$((start * 512)) count=$((sectors * 512)) conv=sparse status=none
  rm -f "$SCRATCH/x/disk.raw"
  # ntfscat and ntfsls are case-sensitive: find each component's spelling
  local cur="" comp real
  for comp in Windows System32; do
    real=$(ntfsls -f "$SCRATCH/x/part.img" -p "${cur:-/}" | grep -ixF -- "$comp" | head -n 1)
    cur="$cur/$real"
  done
  local cfg drv
  cfg=$(ntfsls -f "$SCRATCH/x/part.img" -p "$cur" | grep -ixF config | head -n 1)
  drv=$(ntfsls -f "$SCRATCH/x/part.img" -p "$cur" | grep -ixF drivers | head -n 1)
  local sysname
  sysname=$(ntfsls -f "$SCRATCH/x/part.img" -p "$cur/$cfg" | grep -ixF system | head -n 1)
  ntfscat "$SCRATCH/x/part.img" "$cur/$cfg/$sysname" > "$SCRATCH/x/SYSTEM" \
    && ntfsls -f "$SCRATCH/x/part.img" -p "$cur/$drv" > "$SCRATCH/x/drivers.txt" \
    || { bad "$label: reading the image with ntfs-3g's tools"; return; }
  if $PY "$SRCDIR/tests/e2e/drivers_check.py" "$SCRATCH/$label.json" "$SCRATCH/x/SYSTEM" \
       "$SCRATCH/x/drivers.txt" "$@" > "$SCRATCH/x/out" 2>&1; then
    ok "$label: inspect's drivers and per-provider hardware match the image ($*)"
  else
    bad "$label: $(cat "$SCRATCH/x/out")"
  fi
}
# patched LABEL IMAGE EDITS...: a patched copy of IMAGE
patched() {
  local label=$1 img=$2; shift 2
  "$BOXWRIGHT" patch "$img" -o "$SCRATCH/$label.vhd" --quiet "$@" 2> "$SCRATCH/err" \
    || bad "$label: patch failed: $(cat "$SCRATCH/err")"
}

base=$FIXTURES/nano-base.vhd
check "$base" base virtualbox.disk_ok=true virtualbox.nic_ok=true libvirt.disk_bus=ide \
  vmware_desktop.disk_bus=ide hyperv/1.nic_ok=false hyperv/2.disk_ok=false

# Start 0 without the driver file: still no AHCI (the file is looked for)
patched ahci-nofile "$base" --reg "$SCRATCH/ahci.reg"
check "$SCRATCH/ahci-nofile.vhd" ahci-nofile libvirt.disk_bus=ide
# with the file: libvirt and VMware take SATA; in the live control set 2 too
patched ahci "$base" --reg "$SCRATCH/ahci.reg" --copy-in "$SCRATCH/stub/storahci.sys:$D"
check "$SCRATCH/ahci.vhd" ahci libvirt.disk_bus=sata vmware_desktop.disk_bus=sata \
  libvirt.disk_ok=true virtualbox.disk_bus=ide
patched ahci-cs2 "$FIXTURES/nano-cs2.vhd" --reg "$SCRATCH/ahci.reg" --copy-in "$SCRATCH/stub/storahci.sys:$D"
check "$SCRATCH/ahci-cs2.vhd" ahci-cs2 libvirt.disk_bus=sata
# Hyper-V's synthetic drivers (netvsc added, the files of all three)
patched hv "$base" --reg "$SCRATCH/hv.reg" --copy-in "$SCRATCH/stub/vmbus.sys:$D" \
  --copy-in "$SCRATCH/stub/storvsc.sys:$D" --copy-in "$SCRATCH/stub/netvsc.sys:$D"
check "$SCRATCH/hv.vhd" hv hyperv/1.disk_ok=true hyperv/1.nic_ok=true \
  hyperv/2.disk_ok=true hyperv/2.nic_ok=true hyperv/2.disk_bus=scsi
# IDE controller drivers disabled: VirtualBox's disk has no driver
patched noide "$base" --reg "$SCRATCH/noide.reg"
check "$SCRATCH/noide.vhd" noide virtualbox.disk_ok=false virtualbox.nic_ok=true \
  libvirt.disk_ok=false libvirt.disk_bus=sata hyperv/1.disk_ok=false
"$BOXWRIGHT" inspect "$SCRATCH/noide.vhd" > "$SCRATCH/noide.txt" 2>&1
grep -q "intelide (Start 4: disabled)" "$SCRATCH/noide.txt" && grep -q "virtualbox .*MISSING IDE disk controller.*-OEMDrivers" "$SCRATCH/noide.txt" \
  && ok "noide: inspect's text names the disabled driver and what VirtualBox lacks" || bad "noide text: $(cat "$SCRATCH/noide.txt")"

# ---- build ----
vf() { tar xOf "$1" Vagrantfile; }
expect_exit 0 "build the AHCI copy for virtualbox and libvirt" "$BOXWRIGHT" build "$SCRATCH/ahci.vhd" \
  -o "$SCRATCH/a.box" --provider virtualbox,libvirt --winrm --size 2G --quiet
vf "$SCRATCH/a-libvirt.box" | grep -qF 'lv.disk_bus = "sata"' && vf "$SCRATCH/a-libvirt.box" | grep -qF 'lv.machine_type = "q35"' \
  && ok "ahci: the libvirt box's disk is on SATA (q35)" || bad "ahci Vagrantfile: $(vf "$SCRATCH/a-libvirt.box")"
grep -q "drivers-missing" "$SCRATCH/err" && bad "ahci: warnings: $(cat "$SCRATCH/err")" || ok "ahci: no driver warning"
expect_exit 0 "build the base with --reg and --copy-in adding AHCI" "$BOXWRIGHT" build "$base" \
  -o "$SCRATCH/b.box" --provider libvirt --winrm --size 2G --quiet \
  --reg "$SCRATCH/ahci.reg" --copy-in "$SCRATCH/stub/storahci.sys:$D"
vf "$SCRATCH/b.box" | grep -qF 'lv.disk_bus = "sata"' && ok "build's own edits count: SATA" || bad "b Vagrantfile: $(vf "$SCRATCH/b.box")"
expect_exit 0 "build the base for libvirt" "$BOXWRIGHT" build "$base" -o "$SCRATCH/c.box" \
  --provider libvirt --winrm --size 2G --quiet --strict
vf "$SCRATCH/c.box" | grep -qF 'lv.disk_bus = "ide"' && ok "base: IDE, and --strict has nothing to refuse" || bad "c Vagrantfile: $(vf "$SCRATCH/c.box")"
expect_exit 0 "build the IDE-less copy (warnings)" "$BOXWRIGHT" build "$SCRATCH/noide.vhd" -o "$SCRATCH/n.box" \
  --provider virtualbox,libvirt --winrm --size 2G --quiet
grep -q "warning: .*the virtualbox box declares hardware the image has no driver for: IDE disk controller.*-OEMDrivers \[drivers-missing-virtualbox\]" "$SCRATCH/err" \
  && grep -q "warning: .*the libvirt box .*SATA (storahci) or IDE.* \[drivers-missing-libvirt\]" "$SCRATCH/err" \
  && ok "noide: one named warning per provider" || bad "noide warnings: $(cat "$SCRATCH/err")"
[ -s "$SCRATCH/n-virtualbox.box" ] && vf "$SCRATCH/n-libvirt.box" | grep -qF 'lv.disk_bus = "sata"' \
  && ok "noide: boxes written, libvirt on SATA" || bad "noide boxes: $(ls "$SCRATCH")"
expect_exit 3 "--strict refuses the IDE-less copy" "$BOXWRIGHT" build "$SCRATCH/noide.vhd" -o "$SCRATCH/s.box" \
  --winrm --size 2G --quiet --strict
grep -q "virtualbox box declares hardware the image has no driver for.*--strict" "$SCRATCH/err" && [ ! -e "$SCRATCH/s.box" ] \
  && ok "--strict: one line naming the box and the drivers, no box" || bad "--strict: $(cat "$SCRATCH/err"; ls "$SCRATCH")"
finish
