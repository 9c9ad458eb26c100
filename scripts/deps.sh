#!/usr/bin/env bash
# Install what boxwright needs to build and test on Debian 12 (apt-get,
# non-interactive).  Quiet and quick when everything is already there.
set -euo pipefail
pkgs=(
  build-essential autoconf automake pkg-config make gcc git
  libguestfs-dev libhivex-dev zlib1g-dev libarchive-dev libdeflate-dev nettle-dev libjansson-dev libxml2-dev
  ntfs-3g ntfs-3g-dev
  # libguestfs' appliance: supermin only recommends a kernel, so name one
  libguestfs-tools guestfs-tools supermin linux-image-amd64 qemu-system-x86
  # independent readers the tests check our outputs with
  qemu-utils libwin-hivex-perl libhivex-bin libvhdi-utils libvmdk-utils
  python3 python3-libvhdi python3-libvmdk libxml2-utils libarchive-tools vagrant
  # tests/e2e/docs-options.sh renders the man page
  groff-base
  # tests/e2e/box-libvirt.sh: `vagrant box add --provider libvirt`, `vagrant validate`
  vagrant-libvirt
  # the GPT fixtures (sgdisk, mkfs.vfat + mtools) and tests/e2e/fat.sh
  gdisk dosfstools mtools
  # the GPT fixtures' bootx64.efi (grub-mkstandalone -O x86_64-efi) and
  # tests/e2e/boot-ovmf.sh, which boots it with OVMF; volcompare.py: sfdisk
  grub-efi-amd64-bin grub-common ovmf fdisk
  # tests/e2e/sam.sh: hives built with hivex's bindings, checked with secretsdump
  python3-hivex python3-impacket
  # batch's e2e test runs a real Slurm array job on localhost
  slurm-wlm munge
  # make fuzz-smoke (libFuzzer)
  clang
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
