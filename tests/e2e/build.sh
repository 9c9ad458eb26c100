#!/usr/bin/env bash
# build on the base fixture and on the one whose partition is at sector 63
# (so it really moves; with --new-signature): the box's parts, the OVF by
# content, the VMDK by independent readers, and the disk inside it by
# inspect (partition at 1 MiB filling --size, NTFS resized and clean,
# hidden sectors, BCD and MountedDevices consistent, WinRM set,
# SetupComplete.cmd present), free clusters zero, no garbage left.
. "$SRCDIR/tests/e2e/lib.sh"
printf '@echo off\nwinrm quickconfig -q\n' > "$SCRATCH/setup.cmd"

run_build() {   # NAME SIZE EXTRA...
  local name=$1 size=$2; shift 2
  local label=$name${WORKDIR:+ (work dir $WORKDIR_KIND)}
  need_fixture "$name.vhd"
  local img=$FIXTURES/$name.vhd box=$SCRATCH/$name.box
  if env ${WORKDIR:+TMPDIR="$WORKDIR"} "$BOXWRIGHT" build "$img" -o "$box" --size "$size" --winrm --setup-complete "$SCRATCH/setup.cmd" \
       --hardware-uuid 8f6d2f4e-5a1b-4c3d-9e7f-0a1b2c3d4e5f --quiet --json "$@" > "$SCRATCH/build.json" 2> "$SCRATCH/err"; then
    ok "$label: build ($($PY -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["seconds"], "s,", j["box_size"], "bytes")' "$SCRATCH/build.json"))"
  else
    bad "$label: build failed: $(cat "$SCRATCH/err")"; return 1
  fi
  rm -rf "$SCRATCH/box" && mkdir "$SCRATCH/box"
  tar -xf "$box" -C "$SCRATCH/box" || { bad "$label: the box is not a tar"; return 1; }
  [ "$(tar -tf "$box" | sort | tr '\n' ' ')" = "Vagrantfile box-disk001.vmdk box.ovf metadata.json " ] \
    && ok "$label: box holds box.ovf, box-disk001.vmdk, metadata.json, Vagrantfile" || bad "$label: box entries: $(tar -tf "$box" | tr '\n' ' ')"
  local vmdk=$SCRATCH/box/box-disk001.vmdk
  qemu-img check "$vmdk" > /dev/null 2>&1 && ok "$label: qemu-img check" || bad "$label: qemu-img check"
  vmdkinfo "$vmdk" > /dev/null 2>&1 && ok "$label: vmdkinfo" || bad "$label: vmdkinfo"
  # the disk through qemu and through libvmdk must agree, byte for byte
  qemu-img convert -f vmdk -O raw "$vmdk" "$SCRATCH/disk.raw"
  $PY - "$vmdk" "$SCRATCH/disk.raw" <<'PYEOF' && ok "$label: libvmdk reads what qemu-img reads" || bad "$label: libvmdk and qemu-img differ"
import sys, pyvmdk
f = pyvmdk.handle(); f.open(sys.argv[1]); f.open_extent_data_files()
r = open(sys.argv[2], "rb"); n = f.get_media_size(); off = 0
while off < n:
    k = min(4 << 20, n - off)
    if f.read_buffer_at_offset(k, off) != r.read(k): sys.exit(1)
    off += k
sys.exit(0)
PYEOF
  $PY - "$SCRATCH/box" "$SCRATCH/disk.raw" <<'PYEOF' && ok "$label: OVF content (XML, items, parent, host resource, capacity, uuids, hrefs)" || bad "$label: OVF content"
import json, os, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
ns = {"ovf": "http://schemas.dmtf.org/ovf/envelope/1",
      "rasd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData",
      "vbox": "http://www.virtualbox.org/ovf/machine"}
t = ET.parse(os.path.join(d, "box.ovf")).getroot()
O = "{%s}" % ns["ovf"]
errs = []
for f in t.iter(O + "File"):
    if not os.path.exists(os.path.join(d, f.get(O + "href"))): errs.append("href missing")
disks = {x.get(O + "diskId"): x for x in t.iter(O + "Disk")}
cap = int(next(iter(disks.values())).get(O + "capacity"))
if cap != os.path.getsize(sys.argv[2]): errs.append("capacity %d != %d" % (cap, os.path.getsize(sys.argv[2])))
items = list(t.iter(O + "Item"))
R = "{%s}" % ns["rasd"]
ids = {i.findtext(R + "InstanceID"): i for i in items}
for i in items:
    if i.find(R + "ResourceType") is None: errs.append("Item without ResourceType")
    if i.findtext(R + "ResourceType") == "17":
        if i.findtext(R + "Parent") not in ids: errs.append("disk Parent")
        hr = i.findtext(R + "HostResource")
        if hr.split("/")[-1] not in disks: errs.append("HostResource " + hr)
V = "{%s}" % ns["vbox"]
dis = {x.get(V + "uuid") for x in t.iter(O + "Disk")}
imgs = {x.get("uuid").strip("{}") for x in t.iter() if x.tag.endswith("Image") and x.get("uuid")}
if not dis or {u.strip("{}") for u in dis} != imgs: errs.append("vbox uuids %s %s" % (dis, imgs))
if json.load(open(os.path.join(d, "metadata.json"))).get("provider") != "virtualbox": errs.append("metadata")
print(errs)
sys.exit(1 if errs else 0)
PYEOF
  grep -q 'communicator = "winrm"' "$SCRATCH/box/Vagrantfile" && grep -q -- '--hardwareuuid", "8f6d2f4e-5a1b-4c3d-9e7f-0a1b2c3d4e5f"' "$SCRATCH/box/Vagrantfile" \
    && ok "$label: Vagrantfile: winrm communicator, pinned hardware UUID" || bad "$label: Vagrantfile"
  grep -v '^ *#' "$SCRATCH/box/Vagrantfile" | grep -q 'forwarded_port' && bad "$label: Vagrantfile forwards 5985 again" || ok "$label: no second forward of 5985"
  # the disk inside, by inspect
  "$BOXWRIGHT" inspect --json "$SCRATCH/disk.raw" > "$SCRATCH/insp.json" 2> "$SCRATCH/err" || bad "$label: inspect of the built disk: $(cat "$SCRATCH/err")"
  $PY - "$SCRATCH/insp.json" "$size" <<'PYEOF' && ok "$label: inspect: partition at 1 MiB filling the disk, NTFS resized and clean, boot chain consistent, WinRM ready, SetupComplete.cmd" || bad "$label: inspect of the built disk"
import json, sys
j = json.load(open(sys.argv[1])); size = j["virtual_size"]
p = j["partition_table"]["partitions"]; v = j["volumes"][0]["ntfs"]; w = j["windows"]
c = {
 "one partition": len(p) == 1, "active": p[0]["active"], "at 2048": p[0]["start_lba"] == 2048,
 "spans the disk": 2048 + p[0]["sectors"] == size // 512,
 "NTFS fills it": v["total_sectors"] * 512 >= p[0]["sectors"] * 512 - v["cluster_size"] - 512,
 "not dirty": v["dirty"] is False, "hidden 2048": v["hidden_sectors"] == 2048,
 "backup hidden 2048": v["backup_hidden_sectors"] == 2048,
 "winrm": w["winrm"]["ready_for_vagrant"] is True, "setupcomplete": w["setup_complete_cmd"] is True,
 "bcd devices at 1 MiB": all(d["offset"] == 1048576 and d["partition"] == 1
     for o in j["bcd"]["objects"] for d in o["devices"] if d["kind"] == "partition-mbr"),
 "no diagnoses": [d["code"] for d in j["diagnoses"]] == [],
}
bad = [k for k, ok in c.items() if not ok]
print(bad, j["diagnoses"])
sys.exit(1 if bad else 0)
PYEOF
  # free clusters read as zero; the garbage marker is gone
  dd if="$SCRATCH/disk.raw" of="$SCRATCH/part.img" bs=1M skip=1 conv=sparse status=none
  ntfscat "$SCRATCH/part.img" '$Bitmap' > "$SCRATCH/bitmap" 2>/dev/null
  $PY - "$SCRATCH/part.img" "$SCRATCH/bitmap" <<'PYEOF' && ok "$label: every free cluster is zero" || bad "$label: free clusters hold data"
import sys
img = open(sys.argv[1], "rb"); bm = open(sys.argv[2], "rb").read()
img.seek(0x28); tot = int.from_bytes(img.read(8), "little"); img.seek(0x0D); spc = img.read(1)[0]
cs = spc * 512; n = tot * 512 // cs; bad = 0; l = 0
while l < n:
    u = (bm[l // 8] >> (l % 8)) & 1; e = l + 1
    while e < n and e - l < 2048 and ((bm[e // 8] >> (e % 8)) & 1) == u: e += 1
    if not u:
        img.seek(l * cs); d = img.read((e - l) * cs)
        if d.count(0) != len(d): bad += 1
    l = e
sys.exit(1 if bad else 0)
PYEOF
  local marker; marker=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["garbage_marker"])' "$FIXTURES/$name.facts.json")
  grep -q "$marker" "$SCRATCH/disk.raw" && bad "$label: deleted-file garbage survived" || ok "$label: no deleted-file garbage in the box"
  local used; used=$($PY -c 'import sys,os; print(os.stat(sys.argv[1]).st_blocks*512)' "$img")
  [ "$(stat -c %s "$box")" -lt "$used" ] && ok "$label: box $(stat -c %s "$box") bytes < input's $used allocated" || bad "$label: box not smaller than the input"
  rm -f "$SCRATCH/part.img"
  # a moved partition has its BCD devices rewritten (checked above)
  local bcd=()
  $PY -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(j["old_partition_offset"] == j["partition_offset"])' "$SCRATCH/build.json" &&
    bcd=(--allow 'Boot/BCD')
  volcompare "$label" "$img" "$SCRATCH/disk.raw" --special 1 "${HIVES_EDITED[@]}" "${SETUP_SCRIPTS[@]}" "${bcd[@]}"
  rm -f "$SCRATCH/disk.raw"
  rm -rf "$SCRATCH/box"
}
WORKDIR=
run_build nano-base 6G
# The work directory on a filesystem that reports no holes (a FUSE mount
# of ntfs-3g here; NFS v3 and 9p do the same): the working volume is then
# one data extent, so every free cluster reaches the copy engine's bitmap
# scan instead of being skipped as a hole, and used clusters after free
# ones must survive it (volcompare compares every used cluster).
fuse_umount() { mountpoint -q "$SCRATCH/workfs" && fusermount -u "$SCRATCH/workfs"; }
trap 'fuse_umount; rm -rf "$SCRATCH"' EXIT
if [ "${BOXWRIGHT_BACKEND:-native}" != native ]; then
  :   # the copy engine is the same on both backends: once is enough
elif [ "$(id -u)" = 0 ] && command -v mkntfs >/dev/null && mkdir -p "$SCRATCH/workfs" &&
   truncate -s 8G "$SCRATCH/workfs.img" && mkntfs -F -Q -q "$SCRATCH/workfs.img" >/dev/null 2>&1 &&
   ntfs-3g "$SCRATCH/workfs.img" "$SCRATCH/workfs" 2>/dev/null; then
  if $PY - "$SCRATCH/workfs/probe" <<'PYEOF'; then
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR)
os.pwrite(fd, b"x" * 4096, 1 << 20); os.ftruncate(fd, 4 << 20)
ok = os.lseek(fd, 0, os.SEEK_DATA) == 0 and os.lseek(fd, 0, os.SEEK_HOLE) == 4 << 20
os.close(fd); os.unlink(sys.argv[1])
sys.exit(0 if ok else 1)
PYEOF
    ok "work dir on ntfs-3g (FUSE): no holes reported, so free clusters go through the bitmap scan"
    WORKDIR=$SCRATCH/workfs WORKDIR_KIND="on FUSE, no holes" run_build nano-base 6G
    ls -A "$SCRATCH/workfs" | grep -q . && bad "the FUSE work dir kept files: $(ls -A "$SCRATCH/workfs")" || ok "the FUSE work dir is empty after the build"
  else
    skip_part "ntfs-3g reports holes here (SEEK_HOLE): the FUSE work-dir build would prove nothing new"
  fi
  fuse_umount
else
  skip_part "not root, or no mkntfs/ntfs-3g/FUSE: the build with a work dir that reports no holes"
fi
WORKDIR=
run_build nano-sector63 3G --new-signature --catalog "$SCRATCH/catalog.json" --box-name boxwright/nano63 --box-version 1.2.0
$PY -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j["old_partition_offset"]==63*512 and j["edits"]["bcd_devices_patched"]>=5 and j["edits"]["mounted_devices_patched"]>=2 else 1)' "$SCRATCH/build.json" \
  && ok "nano-sector63: moved from sector 63; BCD devices and MountedDevices patched" || bad "nano-sector63: fix-up counts: $(cat "$SCRATCH/build.json")"
# the catalog build wrote: absolute file:// URL and the box's sha256
$PY - "$SCRATCH/catalog.json" "$SCRATCH/nano-sector63.box" <<'PYEOF' && ok "catalog: name, version, provider, absolute URL, sha256 of the box" || bad "catalog: $(cat "$SCRATCH/catalog.json")"
import hashlib, json, os, sys
c = json.load(open(sys.argv[1])); box = os.path.abspath(sys.argv[2])
p = c["versions"][0]["providers"][0]
ok = (c["name"] == "boxwright/nano63" and c["versions"][0]["version"] == "1.2.0" and p["name"] == "virtualbox"
      and p["url"] == "file://" + box and p["checksum_type"] == "sha256"
      and p["checksum"] == hashlib.sha256(open(box, "rb").read()).hexdigest())
sys.exit(0 if ok else 1)
PYEOF
# A catalog that cannot take the entry (another box's; not a catalog) is
# refused before the build: exit 3 or 2, and no box under the final name.
printf '{"name":"b",' > "$SCRATCH/broken.json"
expect_exit 3 "build --catalog with a broken catalog" "$BOXWRIGHT" build "$FIXTURES/nano-base.vhd" -o "$SCRATCH/nocat.box" \
  --quiet --catalog "$SCRATCH/broken.json" --box-name boxwright/nano --box-version 1.0.0
[ ! -e "$SCRATCH/nocat.box" ] && ok "no box left behind the broken catalog" || bad "a box was written beside a broken catalog"
expect_exit 2 "build --catalog with another box's catalog" "$BOXWRIGHT" build "$FIXTURES/nano-base.vhd" -o "$SCRATCH/nocat.box" \
  --quiet --catalog "$SCRATCH/catalog.json" --box-name someone/else --box-version 1.0.0
[ ! -e "$SCRATCH/nocat.box" ] && ok "no box left behind another box's catalog" || bad "a box was written for another box's catalog"
# Vagrant itself, on the built boxes and the catalog (from another directory)
if command -v vagrant >/dev/null 2>&1 && command -v bsdtar >/dev/null 2>&1; then
  export VAGRANT_HOME=$SCRATCH/vagrant-home VAGRANT_CHECKPOINT_DISABLE=1
  mkdir -p "$SCRATCH/elsewhere"
  if (cd "$SCRATCH" && vagrant box add --name built-base ./nano-base.box) > "$SCRATCH/va" 2>&1 &&
     vagrant box list 2>/dev/null | grep -q '^built-base *(virtualbox, 0)'; then
    ok "vagrant box add of the built box; vagrant box list shows it"
  else bad "vagrant box add of the built box: $(tail -3 "$SCRATCH/va")"; fi
  if (cd "$SCRATCH/elsewhere" && vagrant box add "$SCRATCH/catalog.json") > "$SCRATCH/va" 2>&1 &&
     vagrant box list 2>/dev/null | grep -q '^boxwright/nano63 *(virtualbox, 1.2.0)'; then
    ok "vagrant box add of the catalog from another directory (checksum verified)"
  else bad "vagrant box add of the catalog: $(tail -3 "$SCRATCH/va")"; fi
else
  skip_part "vagrant or bsdtar not installed: vagrant box add skipped"
fi
# refusals
# (System Reserved layouts are built: tests/e2e/build-sysreserved.sh)
[ -e "$SCRATCH/sr.box" ] && bad "a refused build left a box" || ok "no box after a refused build"
expect_exit 3 "dirty SYSTEM hive refused" "$BOXWRIGHT" build "$FIXTURES/nano-dirty.vhd" -o "$SCRATCH/d.box" --winrm --quiet
# ntfs-3g's ntfsresize missing (native backend): one clear line naming the
# program and the package, exit 1, no box.  /usr/sbin is hidden in a mount
# namespace of its own (root only; /sbin is a link to it on Debian 12).
mkdir -p "$SCRATCH/empty"
hide_sbin='mount --bind "$1" /usr/sbin && ! PATH=/usr/bin:/bin command -v ntfsresize >/dev/null'
if [ "${BOXWRIGHT_BACKEND:-native}" != native ]; then
  :   # the case is the native backend's (the appliance brings its own ntfsresize)
elif [ "$(id -u)" = 0 ] && unshare -m sh -c "$hide_sbin" sh "$SCRATCH/empty" 2>/dev/null; then
  unshare -m sh -c 'mount --bind "$1" /usr/sbin && PATH=/usr/bin:/bin exec "$2" build "$3" -o "$4" --winrm --quiet' sh \
    "$SCRATCH/empty" "$BOXWRIGHT" "$FIXTURES/nano-base.vhd" "$SCRATCH/nr.box" > "$SCRATCH/out" 2> "$SCRATCH/err"
  rc=$?
  if [ $rc -eq 1 ] && [ "$(wc -l < "$SCRATCH/err")" -eq 1 ] &&
     grep -q "^boxwright: .*nano-base.vhd: partition 1: ntfsresize not found in PATH.*install ntfs-3g" "$SCRATCH/err"; then
    ok "ntfsresize missing: one line naming it and the package (exit 1)"
  else
    bad "ntfsresize missing: exit $rc: $(cat "$SCRATCH/err")"
  fi
  [ -e "$SCRATCH/nr.box" ] && bad "a build without ntfsresize left a box" || ok "no box without ntfsresize"
else
  skip_part "not root, no mount namespace or ntfsresize outside /usr/sbin: the missing-ntfsresize case"
fi
finish
