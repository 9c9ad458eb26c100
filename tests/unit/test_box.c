/*
 * The box module: box.ovf checked by a real XML parser (xmllint, Debian
 * package libxml2-utils) and XPath on namespace URIs, not on our own
 * text: well-formed, every Item with a rasd:ResourceType, the disk's
 * Parent naming an IDE controller's InstanceID and its HostResource an
 * existing Disk, the capacity, the vbox:uuid of the Disk equal to the
 * <Image uuid> of vbox:Machine, and hostile strings (< & ' > in names)
 * coming back out of the parser unchanged.  The Vagrantfile text and its
 * Ruby escaping; the refusals of bad options.  bw_box_write: a tar read
 * back with libarchive (entries, order, bytes, gzip), O_EXCL, no partial
 * output on failure.  The catalog: create, update in place, Gem::Version
 * order, name mismatch and relative URLs refused, unknown members kept,
 * the JSON reader's refusals.  SHA-256 against FIPS 180-2 vectors ("abc",
 * empty, one million "a") and sha256sum on a 3 MiB file.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "boxwright/box.h"
#include "boxwright/disk.h"
#include "box/box_internal.h"
#include "box/json_load.h"
#include "check.h"
#include "testfile.h"

static char dir[] = "/tmp/bw-test-box.XXXXXX";

#define DISK_UUID    "0b7c5c1e-3f2a-4d6e-9a1b-2c3d4e5f6a7b"
#define MACHINE_UUID "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
#define CAPACITY     (40ull << 30)

static char *path_in(const char *name)
{
	static char buf[8][512];
	static int next;
	char *p = buf[next++ % 8];
	snprintf(p, sizeof buf[0], "%s/%s", dir, name);
	return p;
}

/* Run ARGV, capture stdout into OUT (NUL-terminated, truncated to
 * OUTSZ); returns the exit status, or -1 if it could not run. */
static int run_capture(char *const argv[], char *out, size_t outsz)
{
	int pfd[2];
	if (pipe(pfd) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pfd[1], 1);
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, 2);
		close(pfd[0]);
		close(pfd[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	size_t n = 0;
	for (;;) {
		ssize_t r = read(pfd[0], out + n, n + 1 < outsz ? outsz - n - 1 : 0);
		if (r <= 0) {
			if (r == 0 || n + 1 >= outsz)
				break;
			if (errno == EINTR)
				continue;
			break;
		}
		n += (size_t)r;
		if (n + 1 >= outsz) {
			char sink[256];
			while (read(pfd[0], sink, sizeof sink) > 0)
				;
			break;
		}
	}
	out[n] = '\0';
	close(pfd[0]);
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int have_xmllint;

/* XPath on FILE through xmllint; the result as a string in OUT. */
static int xpath(const char *file, const char *expr, char *out, size_t outsz)
{
	char *argv[] = { "xmllint", "--xpath", (char *)expr, (char *)file, NULL };
	return run_capture(argv, out, outsz);
}

static int xpath_eq(const char *file, const char *expr, const char *want)
{
	char got[4096];
	if (xpath(file, expr, got, sizeof got) != 0) {
		fprintf(stderr, "xpath %s: xmllint failed\n", expr);
		return 0;
	}
	/* xmllint ends its answer with a newline */
	size_t n = strlen(got);
	if (n && got[n - 1] == '\n')
		got[n - 1] = '\0';
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "xpath %s: got \"%s\", expected \"%s\"\n", expr,
			got, want);
		return 0;
	}
	return 1;
}

/* Namespace-exact names: a wrong prefix binding fails these. */
#define OVF_NS  "namespace-uri()='http://schemas.dmtf.org/ovf/envelope/1'"
#define RASD_NS "namespace-uri()='http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData'"
#define VSSD_NS "namespace-uri()='http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData'"
#define VBOX_NS "namespace-uri()='http://www.virtualbox.org/ovf/machine'"
#define OVF(n)  "*[local-name()='" n "' and " OVF_NS "]"
#define RASD(n) "*[local-name()='" n "' and " RASD_NS "]"
#define VSSD(n) "*[local-name()='" n "' and " VSSD_NS "]"
#define VBOX(n) "*[local-name()='" n "' and " VBOX_NS "]"
#define ATTR_OVF(n)  "@*[local-name()='" n "' and " OVF_NS "]"
#define ATTR_VBOX(n) "@*[local-name()='" n "' and " VBOX_NS "]"
#define ITEMS "/" OVF("Envelope") "/" OVF("VirtualSystem") "/" \
	OVF("VirtualHardwareSection") "/" OVF("Item")

/* The structural checks of FORMATS.md on an OVF file. */
static void check_ovf_structure(const char *file, const char *capacity,
				const char *name, unsigned mem, unsigned cpus,
				const char *mac)
{
	char want[512];
	CHECK(xpath_eq(file, "count(" ITEMS ")", "6"));
	/* every Item has a rasd:ResourceType */
	CHECK(xpath_eq(file, "count(" ITEMS "[not(" RASD("ResourceType") ")])", "0"));
	/* the disk's Parent is the InstanceID of an IDE controller */
	CHECK(xpath_eq(file, "count(" ITEMS "[" RASD("ResourceType") "=17])", "1"));
	CHECK(xpath_eq(file,
		       "count(" ITEMS "[" RASD("ResourceType") "=5][" RASD("ResourceSubType") "='PIIX4']"
		       "[" RASD("InstanceID") "=" ITEMS "[" RASD("ResourceType") "=17]/" RASD("Parent") "])",
		       "1"));
	/* InstanceIDs are unique */
	CHECK(xpath_eq(file,
		       "count(" ITEMS "[" RASD("InstanceID") "=preceding-sibling::" OVF("Item") "/" RASD("InstanceID") "])",
		       "0"));
	/* HostResource /disk/<id> names a Disk of the DiskSection */
	CHECK(xpath_eq(file,
		       "string(" ITEMS "[" RASD("ResourceType") "=17]/" RASD("HostResource") ")",
		       "/disk/vmdisk1"));
	CHECK(xpath_eq(file,
		       "count(//" OVF("DiskSection") "/" OVF("Disk") "[" ATTR_OVF("diskId") "=substring-after("
		       ITEMS "[" RASD("ResourceType") "=17]/" RASD("HostResource") ",'/disk/')])",
		       "1"));
	CHECK(xpath_eq(file, "string(" ITEMS "[" RASD("ResourceType") "=17]/" RASD("AddressOnParent") ")", "0"));
	/* the Disk's file is a File of References */
	CHECK(xpath_eq(file,
		       "string(//" OVF("References") "/" OVF("File") "[" ATTR_OVF("id") "=//" OVF("Disk") "/" ATTR_OVF("fileRef") "]/" ATTR_OVF("href") ")",
		       "box-disk001.vmdk"));
	CHECK(xpath_eq(file, "string(//" OVF("Disk") "/" ATTR_OVF("capacity") ")", capacity));
	CHECK(xpath_eq(file, "string(//" OVF("Disk") "/" ATTR_OVF("format") ")",
		       "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"));
	/* vbox:uuid of the Disk = <Image uuid="{...}"> of vbox:Machine */
	CHECK(xpath_eq(file, "string(//" OVF("Disk") "/" ATTR_VBOX("uuid") ")", DISK_UUID));
	CHECK(xpath_eq(file,
		       "string(//" VBOX("Machine") "//*[local-name()='StorageController'][@type='PIIX4']"
		       "/*[local-name()='AttachedDevice'][@type='HardDisk'][@port='0'][@device='0']/*[local-name()='Image']/@uuid)",
		       "{" DISK_UUID "}"));
	CHECK(xpath_eq(file, "string(//" VBOX("Machine") "/@uuid)", "{" MACHINE_UUID "}"));
	CHECK(xpath_eq(file, "string(//" VBOX("Machine") "/" ATTR_OVF("required") ")", "false"));
	/* hostile names come back out of the parser unchanged */
	CHECK(xpath_eq(file, "string(//" OVF("VirtualSystem") "/" ATTR_OVF("id") ")", name));
	CHECK(xpath_eq(file, "string(//" VBOX("Machine") "/@name)", name));
	CHECK(xpath_eq(file, "string(//" OVF("System") "/" VSSD("VirtualSystemIdentifier") ")", name));
	CHECK(xpath_eq(file, "string(//" OVF("System") "/" VSSD("VirtualSystemType") ")", "virtualbox-2.2"));
	/* OS: CIM 118 (Windows Server 2016) and VirtualBox's type */
	CHECK(xpath_eq(file, "string(//" OVF("OperatingSystemSection") "/" ATTR_OVF("id") ")", "118"));
	CHECK(xpath_eq(file, "string(//" OVF("OperatingSystemSection") "/" VBOX("OSType") ")", "Windows2016_64"));
	CHECK(xpath_eq(file, "string(//" VBOX("Machine") "/@OSType)", "Windows2016_64"));
	/* memory and CPUs, in the Items and in vbox:Machine */
	snprintf(want, sizeof want, "%u", mem);
	CHECK(xpath_eq(file, "string(" ITEMS "[" RASD("ResourceType") "=4]/" RASD("VirtualQuantity") ")", want));
	CHECK(xpath_eq(file, "string(//" VBOX("Machine") "//*[local-name()='Memory']/@RAMSize)", want));
	CHECK(xpath_eq(file, "string(" ITEMS "[" RASD("ResourceType") "=4]/" RASD("AllocationUnits") ")", "MegaBytes"));
	snprintf(want, sizeof want, "%u", cpus);
	CHECK(xpath_eq(file, "string(" ITEMS "[" RASD("ResourceType") "=3]/" RASD("VirtualQuantity") ")", want));
	CHECK(xpath_eq(file, "string(//" VBOX("Machine") "//*[local-name()='CPU']/@count)", want));
	/* the NAT E1000 and its MAC */
	CHECK(xpath_eq(file, "string(" ITEMS "[" RASD("ResourceType") "=10]/" RASD("ResourceSubType") ")", "E1000"));
	CHECK(xpath_eq(file, "string(" ITEMS "[" RASD("ResourceType") "=10]/" RASD("Connection") ")", "NAT"));
	CHECK(xpath_eq(file, "string(//" OVF("NetworkSection") "/" OVF("Network") "/" ATTR_OVF("name") ")", "NAT"));
	CHECK(xpath_eq(file,
		       "string(//" VBOX("Machine") "//*[local-name()='Adapter'][@slot='0'][@type='82540EM'][*[local-name()='NAT']]/@MACAddress)",
		       mac));
}

static void test_ovf(void)
{
	struct bw_box_opts o = {
		.disk_capacity = CAPACITY,
		.vm_name = "nano<&'> \xc3\xa9t\xc3\xa9",
		.memory_mb = 2048,
		.cpus = 2,
		.mac = "0a0027aBcDeF",
	};
	struct bw_error e;
	char *ovf = NULL;
	CHECK(bw_box_ovf(&o, DISK_UUID, MACHINE_UUID, &ovf, &e) == 0);
	if (!ovf)
		return;
	/* the hostile name is escaped, never raw */
	CHECK(strstr(ovf, "nano&lt;&amp;&apos;&gt; \xc3\xa9t\xc3\xa9") != NULL);
	CHECK(strstr(ovf, "nano<") == NULL);
	/* literal prefixes as VirtualBox declares them */
	CHECK(strstr(ovf, "xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"") != NULL);
	CHECK(strstr(ovf, "xmlns:vbox=\"http://www.virtualbox.org/ovf/machine\"") != NULL);
	CHECK(strstr(ovf, "<rasd:ResourceType>17</rasd:ResourceType>") != NULL);
	CHECK(strstr(ovf, "ovf:capacity=\"42949672960\"") != NULL);
	char *f = path_in("t.ovf");
	CHECK(tf_write_file(f, ovf, strlen(ovf)) == 0);
	free(ovf);

	if (!have_xmllint) {
		CHECK(!"xmllint (Debian package libxml2-utils) is needed to parse the OVF");
		return;
	}
	char out[256];
	char *argv[] = { "xmllint", "--noout", f, NULL };
	CHECK(run_capture(argv, out, sizeof out) == 0);
	check_ovf_structure(f, "42949672960", "nano<&'> \xc3\xa9t\xc3\xa9", 2048, 2,
			    "0A0027ABCDEF");

	/* defaults: 1024 MB, 1 CPU, a random MAC, the default name */
	struct bw_box_opts d = { .disk_capacity = 1 << 20 };
	CHECK(bw_box_ovf(&d, DISK_UUID, MACHINE_UUID, &ovf, &e) == 0);
	if (!ovf)
		return;
	CHECK(tf_write_file(f, ovf, strlen(ovf)) == 0);
	const char *m = strstr(ovf, "MACAddress=\"");
	char mac[13] = "";
	if (m) {
		memcpy(mac, m + 12, 12);
		mac[12] = '\0';
	}
	free(ovf);
	CHECK(strlen(mac) == 12 && strspn(mac, "0123456789ABCDEF") == 12);
	/* unicast, locally administered */
	CHECK(strchr("26AE", mac[1]) != NULL);
	check_ovf_structure(f, "1048576", BW_BOX_DEFAULT_VM_NAME, 1024, 1, mac);
}

static void test_refusals(void)
{
	struct bw_error e;
	char *t = NULL;
	struct {
		struct bw_box_opts o;
		const char *what;
	} bad[] = {
		{ { .disk_capacity = 512, .vm_name = "a\"b" }, "quote in name" },
		{ { .disk_capacity = 512, .vm_name = "a/b" }, "slash in name" },
		{ { .disk_capacity = 512, .vm_name = "a\\b" }, "backslash in name" },
		{ { .disk_capacity = 512, .vm_name = "" }, "empty name" },
		{ { .disk_capacity = 512, .vm_name = "a\nb" }, "newline in name" },
		{ { .disk_capacity = 512, .vm_name = "a\xc3" }, "truncated UTF-8" },
		{ { .disk_capacity = 512, .vm_name = "\xc0\xafx" }, "overlong UTF-8" },
		{ { .disk_capacity = 512, .vm_name = "\xed\xa0\x80" }, "UTF-8 surrogate" },
		{ { .disk_capacity = 512, .vm_name = "a\xef\xbf\xbf" }, "U+FFFF, not an XML Char" },
		{ { .disk_capacity = 512, .vm_name = "a\xc2\x85" }, "U+0085, a C1 control" },
		{ { .disk_capacity = 512, .vm_name = "\xf4\x90\x80\x80" }, "past U+10FFFF" },
		{ { .disk_capacity = 512, .cpus = 65 }, "65 CPUs" },
		{ { .disk_capacity = 512, .memory_mb = 2 }, "2 MB" },
		{ { .disk_capacity = 512, .mac = "010027000001" }, "multicast MAC" },
		{ { .disk_capacity = 512, .mac = "000000000000" }, "zero MAC" },
		{ { .disk_capacity = 512, .mac = "08:00:27:00:00:01" }, "MAC with colons" },
		{ { .disk_capacity = 512, .hardware_uuid = "not-a-uuid" }, "bad hardware UUID" },
		{ { .disk_capacity = 512, .hardware_uuid = "00000000-0000-0000-0000-000000000000" }, "zero hardware UUID" },
		{ { .disk_capacity = 512, .winrm_password = "a\rb" }, "CR in password" },
		{ { .disk_capacity = 512, .winrm_user = "" }, "empty user" },
		{ { .disk_capacity = 0 }, "zero capacity" },
		{ { .disk_capacity = 1000 }, "capacity not a sector multiple" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		t = NULL;
		int r = bw_box_ovf(&bad[i].o, DISK_UUID, MACHINE_UUID, &t, &e);
		if (r != BW_EINVAL)
			fprintf(stderr, "refusal %zu (%s): got %d\n", i, bad[i].what, r);
		CHECK(r == BW_EINVAL && t == NULL);
		free(t);
	}
	char longname[BW_BOX_MAX_NAME + 2];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	struct bw_box_opts o = { .disk_capacity = 512, .vm_name = longname };
	CHECK(bw_box_ovf(&o, DISK_UUID, MACHINE_UUID, &t, &e) == BW_EINVAL);
	longname[BW_BOX_MAX_NAME] = '\0';
	t = NULL;
	CHECK(bw_box_ovf(&o, DISK_UUID, MACHINE_UUID, &t, &e) == 0);
	free(t);
	struct bw_box_opts ok = { .disk_capacity = 512 };
	CHECK(bw_box_ovf(&ok, "bad", MACHINE_UUID, &t, &e) == BW_EINVAL);
	CHECK(bw_box_ovf(&ok, DISK_UUID, "00000000-0000-0000-0000-000000000000", &t, &e) == BW_EINVAL);
	CHECK(bw_box_ovf(&ok, DISK_UUID, "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1", &t, &e) == BW_EINVAL);
	/* uppercase UUIDs are accepted and written lowercase */
	t = NULL;
	CHECK(bw_box_ovf(&ok, "0B7C5C1E-3F2A-4D6E-9A1B-2C3D4E5F6A7B", MACHINE_UUID, &t, &e) == 0);
	CHECK(t && strstr(t, "vbox:uuid=\"" DISK_UUID "\"") != NULL);
	free(t);
}

static void test_vagrantfile(void)
{
	struct bw_box_opts o = {
		.memory_mb = 3072,
		.cpus = 4,
		.mac = "0A0027000001",
		.winrm_user = "Admin \"x\"",
		.winrm_password = "p\"a\\ss#{`id`}'<&#@x#$y \xc3\xa9",
		.hardware_uuid = "12345678-9ABC-def0-1234-56789abcdef0",
		.winrm_plaintext = 1,
	};
	struct bw_error e;
	char *v = NULL;
	CHECK(bw_box_vagrantfile(&o, &v, &e) == 0);
	if (!v)
		return;
	static const char want[] =
		"Vagrant.configure(\"2\") do |config|\n"
		"  config.vm.guest = :windows\n"
		"  config.vm.communicator = \"winrm\"\n"
		"  config.winrm.transport = :plaintext\n"
		"  config.winrm.basic_auth_only = true\n"
		"  config.winrm.username = \"Admin \\\"x\\\"\"\n"
		"  config.winrm.password = \"p\\\"a\\\\ss\\#{`id`}'<&\\#@x\\#$y \xc3\xa9\"\n"
		"  config.vm.base_mac = \"0A0027000001\"\n"
		"  config.vm.provider \"virtualbox\" do |vb|\n"
		"    vb.memory = 3072\n"
		"    vb.cpus = 4\n"
		"    vb.customize [\"modifyvm\", :id, \"--hardwareuuid\", \"12345678-9abc-def0-1234-56789abcdef0\"]\n"
		"  end\n"
		"end\n";
	const char *body = strstr(v, "Vagrant.configure");
	CHECK(body && strcmp(body, want) == 0);
	/* the WinRM code page Nano needs: right before the configure block */
	static const char req[] = "Vagrant.require_version \">= 1.9.2\"\n";
	CHECK(body && (size_t)(body - v) >= sizeof req - 1 &&
	      memcmp(body - (sizeof req - 1), req, sizeof req - 1) == 0);
	if (body && strcmp(body, want) != 0)
		fprintf(stderr, "Vagrantfile:\n%s\n", v);
	/* no second forward of WinRM's port: Vagrant has id "winrm" */
	CHECK(strstr(v, "forwarded_port") == NULL);
	free(v);

	/* defaults; no hardware UUID line without one */
	struct bw_box_opts d = { .mac = "0A0027000002" };
	CHECK(bw_box_vagrantfile(&d, &v, &e) == 0);
	if (!v)
		return;
	CHECK(strstr(v, "  config.winrm.username = \"administrator\"\n") != NULL);
	CHECK(strstr(v, "  config.winrm.password = \"vagrant\"\n") != NULL);
	CHECK(strstr(v, "    vb.memory = 1024\n    vb.cpus = 1\n  end\n") != NULL);
	CHECK(strstr(v, "hardwareuuid") == NULL);
	/* without winrm_plaintext: Vagrant's default transport, no basic */
	CHECK(strstr(v, "  config.winrm.transport = :negotiate\n"
			"  config.winrm.basic_auth_only = false\n") != NULL);
	CHECK(strstr(v, "plaintext") == NULL);
	CHECK(strstr(v, "Vagrant.require_version \">= 1.9.2\"\n") != NULL);
	CHECK(strstr(v, "--firmware") == NULL);
	free(v);
	d.firmware_efi = 1;
	CHECK(bw_box_vagrantfile(&d, &v, &e) == 0);
	CHECK(v && strstr(v, "    vb.customize [\"modifyvm\", :id, \"--firmware\", \"efi\"]\n") != NULL);
	free(v);
}

/* A small disk through the library's own writer. */
static int make_disk(const char *path, uint64_t size, enum bw_write_format fmt)
{
	struct bw_writer_opts wo = { .format = fmt, .size = size, .threads = 1 };
	struct bw_writer *w = NULL;
	struct bw_error e;
	if (bw_writer_open(path, &wo, &w, &e))
		return -1;
	uint8_t buf[4096];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	if (bw_writer_write(w, buf, sizeof buf, 0, &e) ||
	    bw_writer_write(w, buf, sizeof buf, size / 2, &e)) {
		bw_writer_abort(w);
		return -1;
	}
	return bw_writer_finish(w, &e) ? -1 : 0;
}

static int make_vmdk(const char *path, uint64_t size)
{
	return make_disk(path, size, BW_WRITE_VMDK_STREAM);
}

struct tar_entry {
	char name[64];
	int64_t size;
	char *data;
	time_t mtime;
};

/* Read a .box back: up to 8 entries; returns the count or -1.  *FILTER
 * gets the outermost filter code. */
static int read_box(const char *path, struct tar_entry *ents, int *filter)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		archive_read_free(a);
		return -1;
	}
	int n = 0;
	struct archive_entry *ae;
	int s;
	while ((s = archive_read_next_header(a, &ae)) == ARCHIVE_OK && n < 8) {
		struct tar_entry *t = &ents[n++];
		snprintf(t->name, sizeof t->name, "%s", archive_entry_pathname(ae));
		t->size = archive_entry_size(ae);
		t->data = malloc((size_t)t->size + 1);
		la_ssize_t got = archive_read_data(a, t->data, (size_t)t->size);
		if (got != t->size)
			n = -100;
		t->data[t->size > 0 ? t->size : 0] = '\0';
		t->mtime = archive_entry_mtime(ae);
		/* owned by 0:0 without names (reproducible boxes) */
		if (archive_entry_filetype(ae) != AE_IFREG ||
		    (archive_entry_perm(ae) & 0777) != 0644 ||
		    archive_entry_uid(ae) != 0 || archive_entry_gid(ae) != 0 ||
		    (archive_entry_uname(ae) && *archive_entry_uname(ae)) ||
		    (archive_entry_gname(ae) && *archive_entry_gname(ae)))
			n = -100;
	}
	*filter = archive_filter_code(a, 0);
	if (s != ARCHIVE_EOF)
		n = -1;
	archive_read_free(a);
	return n < 0 ? -1 : n;
}

static void free_entries(struct tar_entry *ents, int n)
{
	for (int i = 0; i < n; i++)
		free(ents[i].data);
}

static void test_box_write(void)
{
	const uint64_t size = 3 << 20;
	char *vmdk = path_in("d.vmdk");
	CHECK(make_vmdk(vmdk, size) == 0);
	size_t vmdk_len = 0;
	char *vmdk_bytes = (char *)tf_slurp(vmdk, &vmdk_len);
	CHECK(vmdk_bytes && vmdk_len > 0);

	struct bw_box_opts o = {
		.vmdk_path = vmdk,
		.vm_name = "t&<",
		.mac = "0A0027000003",
		.disk_uuid = DISK_UUID,
		.machine_uuid = MACHINE_UUID,
		.hardware_uuid = "12345678-9abc-def0-1234-56789abcdef0",
	};
	struct bw_error e;
	for (int gz = 0; gz < 2; gz++) {
		char *box = path_in(gz ? "g.box" : "p.box");
		o.gzip = gz;
		int r = bw_box_write(box, &o, &e);
		if (r)
			fprintf(stderr, "bw_box_write: %s\n", e.msg);
		CHECK(r == 0);
		struct tar_entry ents[8];
		int filter = -1;
		int n = read_box(box, ents, &filter);
		CHECK(n == 4);
		CHECK(filter == (gz ? ARCHIVE_FILTER_GZIP : ARCHIVE_FILTER_NONE));
		if (n != 4) {
			if (n > 0)
				free_entries(ents, n);
			continue;
		}
		CHECK(strcmp(ents[0].name, "box.ovf") == 0);
		CHECK(strcmp(ents[1].name, "metadata.json") == 0);
		CHECK(strcmp(ents[2].name, "Vagrantfile") == 0);
		CHECK(strcmp(ents[3].name, "box-disk001.vmdk") == 0);
		/* the OVF is bw_box_ovf's for the same options and capacity */
		struct bw_box_opts oc = o;
		oc.disk_capacity = size;
		char *ovf = NULL, *vf = NULL;
		CHECK(bw_box_ovf(&oc, DISK_UUID, MACHINE_UUID, &ovf, &e) == 0);
		CHECK(ovf && strcmp(ents[0].data, ovf) == 0);
		CHECK(strcmp(ents[1].data, "{\"provider\":\"virtualbox\"}\n") == 0);
		CHECK(bw_box_vagrantfile(&oc, &vf, &e) == 0);
		CHECK(vf && strcmp(ents[2].data, vf) == 0);
		CHECK_EQ_U64(ents[3].size, vmdk_len);
		CHECK(vmdk_bytes && (size_t)ents[3].size == vmdk_len &&
		      memcmp(ents[3].data, vmdk_bytes, vmdk_len) == 0);
		free(ovf);
		free(vf);
		/* plain ustar, nothing else: a 512-byte header per entry, data
		 * padded to 512, two zero records, no padding to a block */
		uint64_t want_size = 1024;
		for (int i = 0; i < n; i++)
			want_size += 512 + ((uint64_t)ents[i].size + 511) / 512 * 512;
		free_entries(ents, n);
		if (!gz) {
			struct stat st;
			CHECK(stat(box, &st) == 0);
			CHECK_EQ_U64(st.st_size, want_size);
		}
	}

	/* O_EXCL: an existing output is refused and left as it was */
	char *p = path_in("p.box");
	struct stat before, after;
	CHECK(stat(p, &before) == 0);
	o.gzip = 0;
	CHECK(bw_box_write(p, &o, &e) == BW_EIO);
	CHECK(stat(p, &after) == 0 && after.st_size == before.st_size &&
	      after.st_ino == before.st_ino);

	/* a capacity that disagrees with the VMDK: refused, nothing written */
	char *q = path_in("q.box");
	o.disk_capacity = size + 512;
	CHECK(bw_box_write(q, &o, &e) == BW_EINVAL);
	CHECK(access(q, F_OK) != 0);
	o.disk_capacity = size;
	CHECK(bw_box_write(q, &o, &e) == 0);
	CHECK(access(q, F_OK) == 0);

	/* not a streamOptimized VMDK (a raw file): refused, nothing written */
	char *raw = path_in("d.raw");
	char zeros[4096] = { 0 };
	CHECK(tf_write_file(raw, zeros, sizeof zeros) == 0);
	struct bw_box_opts ro = { .vmdk_path = raw };
	char *rbox = path_in("r.box");
	CHECK(bw_box_write(rbox, &ro, &e) == BW_EINVAL);
	CHECK(access(rbox, F_OK) != 0);
	/* a missing VMDK */
	ro.vmdk_path = path_in("missing.vmdk");
	CHECK(bw_box_write(rbox, &ro, &e) < 0);
	CHECK(access(rbox, F_OK) != 0);
	/* bad options are refused before anything is created */
	struct bw_box_opts bo = { .vmdk_path = vmdk, .vm_name = "x\"y" };
	CHECK(bw_box_write(rbox, &bo, &e) == BW_EINVAL);
	CHECK(access(rbox, F_OK) != 0);
	bo.vm_name = NULL;
	bo.disk_uuid = "nope";
	CHECK(bw_box_write(rbox, &bo, &e) == BW_EINVAL);
	CHECK(access(rbox, F_OK) != 0);
	free(vmdk_bytes);
}

/* ---- OVF hardware UUID, the libvirt box, metadata, reproducibility ---- */

static void test_ovf_hardware_uuid(void)
{
	if (!have_xmllint)
		return;   /* test_ovf already failed for it */
	struct bw_box_opts o = {
		.disk_capacity = CAPACITY, .mac = "0A0027000009",
		.hardware_uuid = "12345678-9ABC-4ef0-8123-56789abcdef0",
	};
	struct bw_error e;
	char *ovf = NULL;
	char *f = path_in("hw.ovf");
	CHECK(bw_box_ovf(&o, DISK_UUID, MACHINE_UUID, &ovf, &e) == 0);
	CHECK(ovf && tf_write_file(f, ovf, strlen(ovf)) == 0);
	free(ovf);
	/* <Hardware uuid="{...}"> as VirtualBox's settings writer puts it,
	 * lowercase in braces, beside the machine's own uuid */
	CHECK(xpath_eq(f, "string(//" VBOX("Machine") "/*[local-name()='Hardware']/@uuid)",
		       "{12345678-9abc-4ef0-8123-56789abcdef0}"));
	CHECK(xpath_eq(f, "string(//" VBOX("Machine") "/@uuid)", "{" MACHINE_UUID "}"));
	/* the SMBIOS UUID stays little-endian, as new VirtualBox machines */
	CHECK(xpath_eq(f, "string(//" VBOX("Machine") "/*[local-name()='Hardware']/*[local-name()='BIOS']"
		       "/*[local-name()='SmbiosUuidLittleEndian']/@enabled)", "true"));
	CHECK(xpath_eq(f, "count(//*[local-name()='Firmware'])", "0"));
	check_ovf_structure(f, "42949672960", BW_BOX_DEFAULT_VM_NAME, 1024, 1, "0A0027000009");
	/* without one: no uuid attribute; UEFI: <Firmware type="EFI"/> */
	o.hardware_uuid = NULL;
	o.firmware_efi = 1;
	CHECK(bw_box_ovf(&o, DISK_UUID, MACHINE_UUID, &ovf, &e) == 0);
	CHECK(ovf && tf_write_file(f, ovf, strlen(ovf)) == 0);
	free(ovf);
	CHECK(xpath_eq(f, "count(//" VBOX("Machine") "/*[local-name()='Hardware']/@uuid)", "0"));
	CHECK(xpath_eq(f, "string(//" VBOX("Machine") "/*[local-name()='Hardware']/*[local-name()='Firmware']/@type)", "EFI"));
}

static void test_vagrantfile_libvirt(void)
{
	struct bw_box_opts o = {
		.provider = BW_BOX_LIBVIRT,
		.vm_name = "nano \"q\"#{x}",
		.memory_mb = 2048,
		.cpus = 2,
		.winrm_password = "p#{`id`}",
		.hardware_uuid = "12345678-9ABC-4ef0-8123-56789abcdef0",
		.disk_bus = BW_BOX_BUS_SATA,
		.firmware_efi = 1,
		.winrm_plaintext = 1,
	};
	struct bw_error e;
	char *v = NULL;
	/* a quote in the VM name is refused for every provider */
	CHECK(bw_box_vagrantfile(&o, &v, &e) == BW_EINVAL && v == NULL);
	o.vm_name = "nano #{x}";
	CHECK(bw_box_vagrantfile(&o, &v, &e) == 0);
	if (!v)
		return;
	static const char want[] =
		"Vagrant.require_version \">= 1.9.2\"\n"
		"Vagrant.configure(\"2\") do |config|\n"
		"  config.vm.guest = :windows\n"
		"  config.vm.communicator = \"winrm\"\n"
		"  config.winrm.transport = :plaintext\n"
		"  config.winrm.basic_auth_only = true\n"
		"  config.winrm.username = \"administrator\"\n"
		"  config.winrm.password = \"p\\#{`id`}\"\n"
		"  config.vm.provider :libvirt do |lv|\n"
		"    lv.memory = 2048\n"
		"    lv.cpus = 2\n"
		"    lv.disk_bus = \"sata\"\n"
		"    lv.disk_device = \"sda\"\n"
		"    lv.machine_type = \"q35\"\n"
		"    lv.nic_model_type = \"e1000\"\n"
		"    # UEFI: OVMF's code read-only; the variable store is created by\n"
		"    # libvirt from its template.  Give each concurrent VM its own nvram.\n"
		"    lv.loader = \"/usr/share/OVMF/OVMF_CODE.fd\"\n"
		"    lv.nvram = \"/var/lib/libvirt/qemu/nvram/nano \\#{x}_VARS.fd\"\n"
		"    lv.sysinfo = { \"system\" => { \"uuid\" => \"12345678-9abc-4ef0-8123-56789abcdef0\" } }\n"
		"  end\n"
		"end\n";
	const char *body = strstr(v, "Vagrant.require_version");
	CHECK(body && strcmp(body, want) == 0);
	if (body && strcmp(body, want) != 0)
		fprintf(stderr, "Vagrantfile:\n%s\n", v);
	/* nothing of VirtualBox's: no base_mac, no modifyvm */
	CHECK(strstr(v, "base_mac") == NULL && strstr(v, "virtualbox") == NULL);
	free(v);

	/* defaults: IDE on the pc machine type, BIOS, negotiate, no UUID */
	struct bw_box_opts d = { .provider = BW_BOX_LIBVIRT };
	CHECK(bw_box_vagrantfile(&d, &v, &e) == 0);
	if (!v)
		return;
	CHECK(strstr(v, "    lv.disk_bus = \"ide\"\n    lv.disk_device = \"hda\"\n"
			"    lv.machine_type = \"pc\"\n    lv.nic_model_type = \"e1000\"\n  end\nend\n") != NULL);
	CHECK(strstr(v, "  config.winrm.transport = :negotiate\n") != NULL);
	CHECK(strstr(v, "loader") == NULL && strstr(v, "nvram") == NULL &&
	      strstr(v, "sysinfo") == NULL);
	free(v);

	/* out-of-range enums and a negative mtime are refused */
	d.disk_bus = (enum bw_box_disk_bus)7;
	CHECK(bw_box_vagrantfile(&d, &v, &e) == BW_EINVAL);
	d.disk_bus = BW_BOX_BUS_IDE;
	d.provider = (enum bw_box_provider)9;
	CHECK(bw_box_vagrantfile(&d, &v, &e) == BW_EINVAL);
	d.provider = BW_BOX_LIBVIRT;
	d.mtime = -1;
	CHECK(bw_box_vagrantfile(&d, &v, &e) == BW_EINVAL);

	/* provider names */
	enum bw_box_provider p = BW_BOX_VIRTUALBOX;
	CHECK(bw_box_provider_parse("libvirt", &p, &e) == 0 && p == BW_BOX_LIBVIRT);
	CHECK(bw_box_provider_parse("virtualbox", &p, &e) == 0 && p == BW_BOX_VIRTUALBOX);
	CHECK(bw_box_provider_parse("hyperv", &p, &e) == 0 && p == BW_BOX_HYPERV);
	CHECK(bw_box_provider_parse("vmware_desktop", &p, &e) == 0 && p == BW_BOX_VMWARE);
	CHECK(bw_box_provider_parse("vmware", &p, &e) == BW_EINVAL);
	CHECK(bw_box_provider_parse("parallels", &p, &e) == BW_EINVAL);
	CHECK(strcmp(bw_box_provider_name(BW_BOX_VMWARE), "vmware_desktop") == 0);
	CHECK(bw_box_provider_parse(NULL, &p, &e) == BW_EINVAL);
	CHECK(strcmp(bw_box_provider_name(BW_BOX_LIBVIRT), "libvirt") == 0);
	CHECK(bw_box_provider_name((enum bw_box_provider)9) == NULL);
}

/* metadata.json parsed by jansson: the provider, and for libvirt the
 * format and the virtual size in GiB, rounded up. */
static void check_metadata(const char *text, const char *provider,
			   long long gib)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	CHECK(j && json_is_object(j));
	if (!j)
		return;
	CHECK(json_is_string(json_object_get(j, "provider")) &&
	      strcmp(json_string_value(json_object_get(j, "provider")), provider) == 0);
	if (gib < 0) {
		CHECK(json_object_size(j) == 1);
	} else {
		CHECK(json_object_size(j) == 3);
		CHECK(json_is_string(json_object_get(j, "format")) &&
		      strcmp(json_string_value(json_object_get(j, "format")), "qcow2") == 0);
		CHECK(json_is_integer(json_object_get(j, "virtual_size")) &&
		      json_integer_value(json_object_get(j, "virtual_size")) == gib);
	}
	json_decref(j);
}

static void test_metadata(void)
{
	struct bw_error e;
	char *m = NULL;
	struct bw_box_opts o = { .disk_capacity = 512 };
	CHECK(bw_box_metadata(&o, &m, &e) == 0);
	if (m)
		check_metadata(m, "virtualbox", -1);
	free(m);
	static const struct { uint64_t bytes; long long gib; } sizes[] = {
		{ 512, 1 }, { 1ull << 30, 1 }, { (1ull << 30) + 1, 2 },
		{ 40ull << 30, 40 }, { UINT64_MAX, 17179869184ll },
	};
	o.provider = BW_BOX_LIBVIRT;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		o.disk_capacity = sizes[i].bytes;
		m = NULL;
		CHECK(bw_box_metadata(&o, &m, &e) == 0);
		if (m)
			check_metadata(m, "libvirt", sizes[i].gib);
		free(m);
	}
	o.disk_capacity = 0;
	m = NULL;
	CHECK(bw_box_metadata(&o, &m, &e) == BW_EINVAL && m == NULL);
}

/* Patch BYTES at OFF of a copy of SRC into DST. */
static int patched_copy(const char *src, const char *dst, long off,
			const void *bytes, size_t n, long truncate_to)
{
	size_t len = 0;
	char *data = (char *)tf_slurp(src, &len);
	if (!data)
		return -1;
	if (off >= 0 && (size_t)off + n <= len)
		memcpy(data + off, bytes, n);
	if (truncate_to >= 0 && (size_t)truncate_to < len)
		len = (size_t)truncate_to;
	int r = tf_write_file(dst, data, len);
	free(data);
	return r;
}

static void test_box_write_libvirt(void)
{
	const uint64_t size = (1ull << 30) + (4 << 20);   /* 1 GiB + 4 MiB: 2 GiB */
	char *qcow = path_in("d.qcow2");
	CHECK(make_disk(qcow, size, BW_WRITE_QCOW2) == 0);
	size_t qlen = 0;
	char *qbytes = (char *)tf_slurp(qcow, &qlen);
	CHECK(qbytes && qlen > 0);
	struct bw_box_opts o = {
		.provider = BW_BOX_LIBVIRT, .disk_path = qcow,
		.disk_bus = BW_BOX_BUS_SATA, .mtime = 1700000000,
	};
	struct bw_error e;
	for (int gz = 0; gz < 2; gz++) {
		char *box = path_in(gz ? "lg.box" : "lp.box");
		o.gzip = gz;
		int r = bw_box_write(box, &o, &e);
		if (r)
			fprintf(stderr, "bw_box_write libvirt: %s\n", e.msg);
		CHECK(r == 0);
		struct tar_entry ents[8];
		int filter = -1;
		int n = read_box(box, ents, &filter);
		CHECK(n == 3);
		CHECK(filter == (gz ? ARCHIVE_FILTER_GZIP : ARCHIVE_FILTER_NONE));
		if (n != 3) {
			if (n > 0)
				free_entries(ents, n);
			continue;
		}
		CHECK(strcmp(ents[0].name, "metadata.json") == 0);
		CHECK(strcmp(ents[1].name, "Vagrantfile") == 0);
		CHECK(strcmp(ents[2].name, "box.img") == 0);
		check_metadata(ents[0].data, "libvirt", 2);
		struct bw_box_opts oc = o;
		oc.disk_capacity = size;
		char *vf = NULL;
		CHECK(bw_box_vagrantfile(&oc, &vf, &e) == 0);
		CHECK(vf && strcmp(ents[1].data, vf) == 0);
		free(vf);
		CHECK(qbytes && (size_t)ents[2].size == qlen &&
		      memcmp(ents[2].data, qbytes, qlen) == 0);
		for (int i = 0; i < n; i++)
			CHECK(ents[i].mtime == 1700000000);
		free_entries(ents, n);
	}
	free(qbytes);

	/* refusals, nothing written: a VMDK as box.img, a capacity that
	 * disagrees, and damaged headers (qcow2.txt offsets) */
	char *vmdk = path_in("l.vmdk");
	CHECK(make_vmdk(vmdk, 1 << 20) == 0);
	char *rbox = path_in("lr.box");
	struct bw_box_opts bad = o;
	bad.disk_path = vmdk;
	CHECK(bw_box_write(rbox, &bad, &e) == BW_EINVAL);
	CHECK(access(rbox, F_OK) != 0);
	bad.disk_path = qcow;
	bad.disk_capacity = size + 512;
	CHECK(bw_box_write(rbox, &bad, &e) == BW_EINVAL);
	CHECK(access(rbox, F_OK) != 0);
	bad.disk_capacity = 0;
	bad.vmdk_path = vmdk;   /* disk_path and vmdk_path disagree */
	CHECK(bw_box_write(rbox, &bad, &e) == BW_EINVAL);
	CHECK(access(rbox, F_OK) != 0);
	static const uint8_t v4[4] = { 0, 0, 0, 4 }, one[8] = { 0, 0, 0, 0, 0, 0, 0, 1 },
		bit9[8] = { 0, 0, 0, 0, 0, 0, 2, 0 }, corrupt[8] = { 0, 0, 0, 0, 0, 0, 0, 2 },
		cb30[4] = { 0, 0, 0, 30 }, zero8[8] = { 0 }, aes[4] = { 0, 0, 0, 1 };
	static const struct {
		long off; const void *bytes; size_t n; long trunc; int want; const char *what;
	} dmg[] = {
		{ 4, v4, 4, -1, BW_EUNSUPPORTED, "version 4" },
		{ 8, one, 8, -1, BW_EINVAL, "a backing file" },
		{ 20, cb30, 4, -1, BW_EFORMAT, "cluster_bits 30" },
		{ 24, zero8, 8, -1, BW_EFORMAT, "virtual size 0" },
		{ 32, aes, 4, -1, BW_EUNSUPPORTED, "AES encryption" },
		{ 72, one, 8, -1, BW_EINVAL, "dirty" },
		{ 72, corrupt, 8, -1, BW_EFORMAT, "corrupt" },
		{ 72, bit9, 8, -1, BW_EUNSUPPORTED, "an unknown incompatible feature" },
		{ -1, NULL, 0, 100, BW_EFORMAT, "a header cut at 100 bytes" },
		{ -1, NULL, 0, 2, BW_EINVAL, "2 bytes" },
	};
	char *dq = path_in("dmg.qcow2");
	for (size_t i = 0; i < sizeof dmg / sizeof dmg[0]; i++) {
		CHECK(patched_copy(qcow, dq, dmg[i].off, dmg[i].bytes, dmg[i].n,
				   dmg[i].trunc) == 0);
		bad = o;
		bad.disk_path = dq;
		int r = bw_box_write(rbox, &bad, &e);
		if (r != dmg[i].want)
			fprintf(stderr, "qcow2 with %s: got %d (%s)\n", dmg[i].what, r, e.msg);
		CHECK(r == dmg[i].want);
		CHECK(access(rbox, F_OK) != 0);
	}
}

/* The same options give the same bytes; any identity changed changes
 * them (sha256 of the whole .box). */
/* The Hyper-V and VMware boxes: members, their order and names, the XML
 * read back through xmllint with the XPaths Vagrant's New-VagrantVMXML
 * uses, the .vmx parsed as `key = "value"` lines, and the disks each
 * provider refuses. */
static const char *vmx_get(const char *vmx, const char *key, char *out, size_t n)
{
	/* vagrant-vmware-desktop read_vmx_data: /^(.+?)\s*=\s*(.*?)\s*$/,
	 * keys case-insensitive, the value's quotes stripped */
	const char *line = vmx;
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		const char *eq = memchr(line, '=', len);
		if (line[0] != '#' && eq) {
			size_t kl = (size_t)(eq - line);
			while (kl && line[kl - 1] == ' ')
				kl--;
			if (kl == strlen(key) && strncasecmp(line, key, kl) == 0) {
				const char *v = eq + 1;
				while (*v == ' ')
					v++;
				size_t vl = len - (size_t)(v - line);
				if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
					v++;
					vl -= 2;
				}
				snprintf(out, n, "%.*s", (int)vl, v);
				return out;
			}
		}
		line = end ? end + 1 : NULL;
	}
	return NULL;
}

static void test_box_write_hyperv_vmware(void)
{
	const uint64_t size = 64 << 20;
	/* path_in's buffers are reused: keep these four */
	char vhd[512], vhdx[512], sparse[512], stream[512];
	snprintf(vhd, sizeof vhd, "%s", path_in("h.vhd"));
	snprintf(vhdx, sizeof vhdx, "%s", path_in("h.vhdx"));
	snprintf(sparse, sizeof sparse, "%s", path_in("s.vmdk"));
	snprintf(stream, sizeof stream, "%s", path_in("st.vmdk"));
	CHECK(make_disk(vhd, size, BW_WRITE_VHD_DYNAMIC) == 0);
	CHECK(make_disk(vhdx, size, BW_WRITE_VHDX_DYNAMIC) == 0);
	CHECK(make_disk(sparse, size, BW_WRITE_VMDK_SPARSE) == 0);
	CHECK(make_vmdk(stream, size) == 0);
	struct bw_writer_opts vo = { .format = BW_WRITE_VHD_DYNAMIC, .size = size };
	uint64_t vhd_size = bw_writer_actual_size(&vo);
	struct bw_error e;
	for (int gen2 = 0; gen2 < 2; gen2++) {
		struct bw_box_opts o = {
			.provider = BW_BOX_HYPERV, .disk_path = gen2 ? vhdx : vhd,
			.disk_capacity = gen2 ? size : vhd_size,
			.vm_name = "nano & 'box'", .memory_mb = 2048, .cpus = 2,
			.firmware_efi = gen2, .mtime = 1700000000,
			.hardware_uuid = "12345678-9abc-4def-8123-456789abcdef",
		};
		char *box = path_in(gen2 ? "h2.box" : "h1.box");
		int r = bw_box_write(box, &o, &e);
		if (r)
			fprintf(stderr, "bw_box_write hyperv: %s\n", e.msg);
		CHECK(r == 0);
		struct tar_entry ents[8];
		int filter = -1;
		int n = read_box(box, ents, &filter);
		CHECK(n == 4);
		if (n != 4) {
			if (n > 0)
				free_entries(ents, n);
			continue;
		}
		CHECK(strcmp(ents[0].name, "Virtual Machines/nano & 'box'.xml") == 0);
		CHECK(strcmp(ents[1].name, "metadata.json") == 0);
		CHECK(strcmp(ents[2].name, "Vagrantfile") == 0);
		CHECK(strcmp(ents[3].name, gen2 ? "Virtual Hard Disks/nano & 'box'.vhdx"
						: "Virtual Hard Disks/nano & 'box'.vhd") == 0);
		check_metadata(ents[1].data, "hyperv", -1);
		CHECK(strstr(ents[2].data, "config.vm.provider \"hyperv\" do |hv|\n"
					   "    hv.memory = 2048\n    hv.cpus = 2\n") != NULL);
		/* the byte order mark Windows PowerShell needs (hyperv.c) */
		CHECK(memcmp(ents[0].data, "\xEF\xBB\xBF<?xml", 8) == 0);
		char *xml = path_in(gen2 ? "h2.xml" : "h1.xml");
		CHECK(tf_write_file(xml, ents[0].data, (size_t)ents[0].size) == 0);
		if (have_xmllint) {
			CHECK(xpath_eq(xml, "string(/configuration/properties/subtype[@type])",
				       gen2 ? "1" : "0"));
			CHECK(xpath_eq(xml, "string(/configuration/properties/name)", "nano & 'box'"));
			CHECK(xpath_eq(xml, "string(//boot/device0)", "HardDrive"));
			CHECK(xpath_eq(xml, "string(//secure_boot_enabled)", "False"));
			CHECK(xpath_eq(xml, "string(/configuration/settings/processors/count)", "2"));
			CHECK(xpath_eq(xml, "string(//memory/bank/size)", "2048"));
			CHECK(xpath_eq(xml, "string(//memory/bank/dynamic_memory_enabled)", "False"));
			/* one drive of type VHD, on SCSI (a parent with a
			 * ChannelInstanceGuid) for Generation 2 only */
			CHECK(xpath_eq(xml, "count(//*[starts-with(name(.),'controller')]/*[pathname and type='VHD'])", "1"));
			CHECK(xpath_eq(xml, "count(//*[starts-with(name(.),'controller')][../@ChannelInstanceGuid])",
				       gen2 ? "1" : "0"));
			CHECK(xpath_eq(xml, "string(//*[starts-with(name(.),'controller')]/*/pathname)",
				       gen2 ? "Virtual Hard Disks\\nano & 'box'.vhdx"
					    : "Virtual Hard Disks\\nano & 'box'.vhd"));
			/* every leaf Vagrant reads has an attribute ("#text") */
			CHECK(xpath_eq(xml, "count(//*[not(*) and not(@type)])", "0"));
		}
		free_entries(ents, n);
	}

	/* VMware: SATA and UEFI here, the UUID in VMware's form */
	struct bw_box_opts o = {
		.provider = BW_BOX_VMWARE, .disk_path = sparse, .disk_capacity = size,
		.disk_bus = BW_BOX_BUS_SATA, .firmware_efi = 1, .mtime = 1700000000,
		.hardware_uuid = "12345678-9ABC-4DEF-8123-456789ABCDEF",
	};
	char *box = path_in("w.box");
	int r = bw_box_write(box, &o, &e);
	if (r)
		fprintf(stderr, "bw_box_write vmware: %s\n", e.msg);
	CHECK(r == 0);
	struct tar_entry ents[8];
	int filter = -1;
	int n = read_box(box, ents, &filter);
	CHECK(n == 4);
	if (n == 4) {
		CHECK(strcmp(ents[0].name, BW_BOX_DEFAULT_VM_NAME ".vmx") == 0);
		CHECK(strcmp(ents[3].name, BW_BOX_DEFAULT_VM_NAME ".vmdk") == 0);
		check_metadata(ents[1].data, "vmware_desktop", -1);
		char v[128];
		const char *x = ents[0].data;
		CHECK(strncmp(x, ".encoding = \"UTF-8\"\n", 20) == 0);
		CHECK(vmx_get(x, "guestos", v, sizeof v) && strcmp(v, "windows9srv-64") == 0);
		CHECK(vmx_get(x, "firmware", v, sizeof v) && strcmp(v, "efi") == 0);
		CHECK(vmx_get(x, "sata0:0.fileName", v, sizeof v) &&
		      strcmp(v, BW_BOX_DEFAULT_VM_NAME ".vmdk") == 0);
		CHECK(vmx_get(x, "ide0:0.fileName", v, sizeof v) == NULL);
		CHECK(vmx_get(x, "ethernet0.virtualDev", v, sizeof v) && strcmp(v, "e1000") == 0);
		CHECK(vmx_get(x, "memsize", v, sizeof v) && strcmp(v, "1024") == 0);
		CHECK(vmx_get(x, "uuid.bios", v, sizeof v) &&
		      strcmp(v, "12 34 56 78 9a bc 4d ef-81 23 45 67 89 ab cd ef") == 0);
		CHECK(strstr(ents[2].data, "vmware.vmx[\"uuid.bios\"] = \"12 34 56 78 9a bc 4d ef-81 23 45 67 89 ab cd ef\"\n") != NULL);
		free_entries(ents, n);
	}
	/* IDE, BIOS, no UUID */
	o.disk_bus = BW_BOX_BUS_IDE;
	o.firmware_efi = 0;
	o.hardware_uuid = NULL;
	char *vmx = NULL;
	struct box_resolved res;
	CHECK(box_resolve(&o, &res, &e) == 0 && box_vmx_text(&res, "d.vmdk", &vmx, &e) == 0);
	if (vmx) {
		char v[64];
		CHECK(vmx_get(vmx, "ide0:0.fileName", v, sizeof v) && strcmp(v, "d.vmdk") == 0);
		CHECK(vmx_get(vmx, "firmware", v, sizeof v) == NULL);
		CHECK(vmx_get(vmx, "uuid.bios", v, sizeof v) == NULL);
	}
	free(vmx);
	CHECK(box_vmx_text(&res, "a\"b.vmdk", &vmx, &e) == BW_EINVAL);

	/* refusals: the wrong disk for each, a name Windows cannot hold;
	 * nothing is left behind */
	struct { enum bw_box_provider p; const char *disk; int efi; const char *name; } bad[] = {
		{ BW_BOX_HYPERV, vhd, 1, NULL },      /* Gen 2 reads no VHD */
		{ BW_BOX_HYPERV, stream, 0, NULL },
		{ BW_BOX_VMWARE, stream, 0, NULL },   /* VMware runs no streamOptimized */
		{ BW_BOX_VMWARE, vhd, 0, NULL },
		{ BW_BOX_HYPERV, vhd, 0, "a:b" },
		{ BW_BOX_VMWARE, sparse, 0, "trailing." },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct bw_box_opts b = { .provider = bad[i].p, .disk_path = bad[i].disk,
					 .firmware_efi = bad[i].efi, .vm_name = bad[i].name };
		char *out = path_in("bad.box");
		int rb = bw_box_write(out, &b, &e);
		if (rb != BW_EINVAL)
			fprintf(stderr, "refusal %zu: %d %s\n", i, rb, rb ? e.msg : "");
		CHECK(rb == BW_EINVAL);
		CHECK(access(out, F_OK) != 0);
	}
	/* a Gen 1 VHD box of the wrong size */
	struct bw_box_opts b = { .provider = BW_BOX_HYPERV, .disk_path = vhd, .disk_capacity = vhd_size + (1 << 20) };
	CHECK(bw_box_write(path_in("bad.box"), &b, &e) == BW_EINVAL);
}

static void test_reproducible(void)
{
	/* path_in's buffers rotate: keep copies of the disks' paths */
	char vmdk[512], qcow[512];
	snprintf(vmdk, sizeof vmdk, "%s", path_in("rep.vmdk"));
	snprintf(qcow, sizeof qcow, "%s", path_in("rep.qcow2"));
	CHECK(make_vmdk(vmdk, 2 << 20) == 0);
	CHECK(make_disk(qcow, 2 << 20, BW_WRITE_QCOW2) == 0);
	struct bw_box_opts base = {
		.vmdk_path = vmdk, .mac = "0A0027000005",
		.disk_uuid = DISK_UUID, .machine_uuid = MACHINE_UUID,
		.hardware_uuid = "12345678-9abc-4ef0-8123-56789abcdef0",
		.mtime = 1600000000,
	};
	struct bw_error e;
	char first[65], again[65], other[65];
	for (int prov = 0; prov < 2; prov++) {
		for (int gz = 0; gz < 2; gz++) {
			struct bw_box_opts o = base;
			o.gzip = gz;
			if (prov) {
				o.provider = BW_BOX_LIBVIRT;
				o.vmdk_path = NULL;
				o.disk_path = qcow;
			}
			char *a = path_in("rep-a.box"), *b = path_in("rep-b.box");
			unlink(a);
			unlink(b);
			int r = bw_box_write(a, &o, &e);
			if (r)
				fprintf(stderr, "reproducible: %s\n", e.msg);
			CHECK(r == 0);
			sleep(gz ? 1 : 0);   /* a clock that moves must not matter */
			CHECK(bw_box_write(b, &o, &e) == 0);
			CHECK(bw_sha256_file(a, first, &e) == 0);
			CHECK(bw_sha256_file(b, again, &e) == 0);
			CHECK(strcmp(first, again) == 0);
			/* each identity the box carries changes the bytes */
			struct bw_box_opts ch[5];
			int nch = 0;
			ch[nch] = o; ch[nch++].mtime = 1600000001;
			ch[nch] = o; ch[nch++].hardware_uuid = "12345678-9abc-4ef0-8123-56789abcdef1";
			if (!prov) {
				ch[nch] = o; ch[nch++].mac = "0A0027000006";
				ch[nch] = o; ch[nch++].disk_uuid = "0b7c5c1e-3f2a-4d6e-9a1b-2c3d4e5f6a7c";
				ch[nch] = o; ch[nch++].machine_uuid = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1b";
			}
			for (int i = 0; i < nch; i++) {
				unlink(b);
				CHECK(bw_box_write(b, &ch[i], &e) == 0);
				CHECK(bw_sha256_file(b, other, &e) == 0);
				if (strcmp(first, other) == 0)
					fprintf(stderr, "reproducible: provider %d gzip %d change %d gave the same box\n",
						prov, gz, i);
				CHECK(strcmp(first, other) != 0);
			}
			unlink(a);
			unlink(b);
		}
	}
	/* without fixed identities two virtualbox boxes differ (random
	 * UUIDs and MAC), as they should */
	struct bw_box_opts rnd = { .vmdk_path = vmdk, .mtime = 1600000000 };
	char *a = path_in("rnd-a.box"), *b = path_in("rnd-b.box");
	CHECK(bw_box_write(a, &rnd, &e) == 0 && bw_box_write(b, &rnd, &e) == 0);
	CHECK(bw_sha256_file(a, first, &e) == 0 && bw_sha256_file(b, again, &e) == 0);
	CHECK(strcmp(first, again) != 0);
}

/* ---- catalog ------------------------------------------------------------ */

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* No temporary files beside the catalog. */
static int no_temp_files(void)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	int ok = 1;
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".tmp"))
			ok = 0;
	closedir(d);
	return ok;
}

static void test_catalog(void)
{
	char *cat = path_in("cat.json");
	struct bw_catalog_entry ce = {
		.name = "boxwright/nano",
		.version = "1.0.0",
		.provider = "virtualbox",
		.url = "file:///srv/boxes/nano-1.0.0.box",
		.sha256 = SHA_A,
		.description = "Nano \"test\" \\ box",
	};
	struct bw_error e;
	int r = bw_catalog_update(cat, &ce, &e);
	if (r)
		fprintf(stderr, "catalog: %s\n", e.msg);
	CHECK(r == 0);
	char *t = (char *)tf_slurp(cat, NULL);
	static const char want1[] =
		"{\n"
		"  \"name\": \"boxwright/nano\",\n"
		"  \"description\": \"Nano \\\"test\\\" \\\\ box\",\n"
		"  \"versions\": [\n"
		"    {\n"
		"      \"version\": \"1.0.0\",\n"
		"      \"providers\": [\n"
		"        {\n"
		"          \"name\": \"virtualbox\",\n"
		"          \"url\": \"file:///srv/boxes/nano-1.0.0.box\",\n"
		"          \"checksum_type\": \"sha256\",\n"
		"          \"checksum\": \"" SHA_A "\",\n"
		"          \"architecture\": \"amd64\"\n"
		"        }\n"
		"      ]\n"
		"    }\n"
		"  ]\n"
		"}\n";
	CHECK(t && strcmp(t, want1) == 0);
	if (t && strcmp(t, want1) != 0)
		fprintf(stderr, "catalog:\n%s", t);
	free(t);
	struct stat st;
	CHECK(stat(cat, &st) == 0 && (st.st_mode & 0777) == 0644);

	/* the same version and provider: replaced in place, not added */
	ce.url = "https://boxes.example/nano-1.0.0.box";
	ce.sha256 = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
	ce.description = "ignored for an existing catalog";
	CHECK(bw_catalog_update(cat, &ce, &e) == 0);
	t = (char *)tf_slurp(cat, NULL);
	CHECK(t && strstr(t, "\"checksum\": \"" SHA_B "\"") != NULL);
	CHECK(t && strstr(t, SHA_A) == NULL);
	CHECK(t && strstr(t, "file:///srv") == NULL);
	CHECK(t && strstr(t, "Nano \\\"test\\\"") != NULL);
	free(t);

	/* Gem::Version order, not string order; "1.0" is "1.0.0" */
	const char *vs[] = { "1.10.0", "1.9.0", "1.0.0.beta", "0.9", "1.0" };
	ce.url = "http://h/x.box";
	for (size_t i = 0; i < 5; i++) {
		ce.version = vs[i];
		CHECK(bw_catalog_update(cat, &ce, &e) == 0);
	}
	t = (char *)tf_slurp(cat, NULL);
	const char *order[] = { "\"0.9\"", "\"1.0.0.beta\"", "\"1.0.0\"", "\"1.9.0\"", "\"1.10.0\"" };
	const char *at = t;
	for (size_t i = 0; i < 5 && at; i++) {
		at = strstr(at, order[i]);
		CHECK(at != NULL);
	}
	CHECK(t && strstr(t, "\"1.0\"") == NULL);
	/* 1.0.0's provider was replaced by the "1.0" update: one provider */
	int providers = 0;
	for (const char *s = t; s && (s = strstr(s, "\"name\": \"virtualbox\"")); s++)
		providers++;
	CHECK(providers == 5);
	free(t);

	/* a different box name: refused, file untouched */
	size_t len0 = 0;
	char *t0 = (char *)tf_slurp(cat, &len0);
	struct bw_catalog_entry other = ce;
	other.name = "someone/else";
	CHECK(bw_catalog_update(cat, &other, &e) == BW_EINVAL);
	/* bw_catalog_check (build asks it before building): the same
	 * refusal, the same acceptance, without URL or checksum, and the
	 * file is never written */
	struct bw_catalog_entry probe = { .name = "someone/else", .version = "2.0.0" };
	CHECK(bw_catalog_check(cat, &probe, &e) == BW_EINVAL);
	probe.name = ce.name;
	probe.url = "http://h/y.box";
	CHECK(bw_catalog_check(cat, &probe, &e) == 0);
	/* one URL style: without a URL (build without --base-url: a
	 * file:// one) an HTTP catalog is refused, with the base URL that
	 * would keep it; the reverse too */
	probe.url = NULL;
	CHECK(bw_catalog_check(cat, &probe, &e) == BW_EINVAL);
	CHECK(strstr(e.msg, "served from http://h/x.box") != NULL);
	CHECK(strstr(e.msg, "give --base-url http://h/ (") != NULL);
	other = ce;
	other.version = "3.0";
	other.url = "file:///srv/x.box";
	CHECK(bw_catalog_update(cat, &other, &e) == BW_EINVAL);
	{
		char *fcat = path_in("file-cat.json");
		struct bw_catalog_entry fe = ce;
		fe.version = "1.0";
		fe.url = "file:///srv/a.box";
		CHECK(bw_catalog_update(fcat, &fe, &e) == 0);
		fe.version = "1.1";
		fe.url = "https://h/b.box";
		CHECK(bw_catalog_update(fcat, &fe, &e) == BW_EINVAL);
		CHECK(strstr(e.msg, "its boxes are local files (file:///srv/a.box, version 1.0)") != NULL);
		/* another provider of the same version is another box: refused too */
		fe.version = "1.0";
		fe.provider = "libvirt";
		CHECK(bw_catalog_update(fcat, &fe, &e) == BW_EINVAL);
		/* the entry replaced does not count */
		fe.provider = "virtualbox";
		CHECK(bw_catalog_update(fcat, &fe, &e) == 0);
	}
	probe.version = "v2";
	CHECK(bw_catalog_check(cat, &probe, &e) == BW_EINVAL);
	probe.version = "2.0.0";
	probe.url = "nano.box";
	CHECK(bw_catalog_check(cat, &probe, &e) == BW_EINVAL);
	char *missing = path_in("no-such-catalog.json");
	probe.url = NULL;
	CHECK(bw_catalog_check(missing, &probe, &e) == 0);
	struct stat mst;
	CHECK(stat(missing, &mst) != 0);
	size_t lenc = 0;
	char *tc = (char *)tf_slurp(cat, &lenc);
	CHECK(tc && lenc == len0 && memcmp(t0, tc, len0) == 0);
	free(tc);
	/* relative and malformed URLs, bad checksums and versions: refused */
	const char *bad_urls[] = { "nano.box", "./nano.box", "/abs/nano.box",
				   "file://nano.box", "file:///", "http:///x",
				   "ftp://h/x", "file:///a b.box", "http://h/\x01" };
	for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
		other = ce;
		other.url = bad_urls[i];
		CHECK(bw_catalog_update(cat, &other, &e) == BW_EINVAL);
	}
	other = ce;
	other.sha256 = SHA_A "0";
	CHECK(bw_catalog_update(cat, &other, &e) == BW_EINVAL);
	char non_hex[65];
	memcpy(non_hex, SHA_A, 65);
	non_hex[17] = 'g';
	other.sha256 = non_hex;
	CHECK(bw_catalog_update(cat, &other, &e) == BW_EINVAL);
	const char *bad_versions[] = { "", "v1", "1..0", "1.0.", "1.0-beta", "1 0" };
	for (size_t i = 0; i < sizeof bad_versions / sizeof bad_versions[0]; i++) {
		other = ce;
		other.version = bad_versions[i];
		CHECK(bw_catalog_update(cat, &other, &e) == BW_EINVAL);
	}
	size_t len1 = 0;
	char *t1 = (char *)tf_slurp(cat, &len1);
	CHECK(t0 && t1 && len0 == len1 && memcmp(t0, t1, len0) == 0);
	free(t0);
	free(t1);
	CHECK(no_temp_files());

	/* unknown members survive; a provider of another architecture stays;
	 * FILE:// in capitals is a file URL */
	char *cat2 = path_in("cat2.json");
	static const char foreign[] =
		"{\"name\":\"b\",\"extra\":[1,-2.5e+3,true,false,null,{}],"
		"\"versions\":[{\"version\":\"2.0\",\"status\":\"active\",\"providers\":["
		"{\"name\":\"virtualbox\",\"architecture\":\"arm64\",\"url\":\"file:///h/arm.box\"},"
		"{\"name\":\"virtualbox\",\"url\":\"file:///h/old.box\",\"checksum_type\":\"md5\",\"checksum\":\"x\"},"
		"{\"name\":\"libvirt\",\"url\":\"file:///h/lv.box\"},"
		"{\"name\":\"virtualbox\",\"url\":\"file:///h/dup.box\"}]}],"
		"\"s\":\"caf\\u00e9 \\ud83d\\ude00 \\/\"}";
	CHECK(tf_write_file(cat2, foreign, sizeof foreign - 1) == 0);
	chmod(cat2, 0640);
	struct bw_catalog_entry c2 = { .name = "b", .version = "2.0.0",
				       .url = "FILE:///x.box", .sha256 = SHA_A };
	r = bw_catalog_update(cat2, &c2, &e);
	if (r)
		fprintf(stderr, "catalog 2: %s\n", e.msg);
	CHECK(r == 0);
	t = (char *)tf_slurp(cat2, NULL);
	CHECK(t && strstr(t, "\"extra\": [\n    1,\n    -2500.0,\n    true,\n    false,\n    null,\n    {}\n  ]") != NULL);
	CHECK(t && strstr(t, "\"status\": \"active\"") != NULL);
	CHECK(t && strstr(t, "\"architecture\": \"arm64\"") != NULL);
	CHECK(t && strstr(t, "old.box") == NULL && strstr(t, "dup.box") == NULL);
	CHECK(t && strstr(t, "lv.box") != NULL);
	CHECK(t && strstr(t, "FILE:///x.box") != NULL);
	CHECK(t && strstr(t, "\"s\": \"caf\xc3\xa9 \xf0\x9f\x98\x80 /\"") != NULL);
	CHECK(t && strstr(t, "\"version\": \"2.0\"") != NULL);
	free(t);
	CHECK(stat(cat2, &st) == 0 && (st.st_mode & 0777) == 0640);

	/* a catalog that is not JSON, or not a catalog: BW_EFORMAT, untouched */
	static const char *broken[] = {
		"{\"name\":\"b\",", "[1]", "{\"versions\":[]}",
		"{\"name\":\"b\",\"versions\":{}}",
		"{\"name\":\"b\",\"versions\":[{\"providers\":[]}]}",
		"{\"name\":\"b\",\"versions\":[{\"version\":\"2.0.0\",\"providers\":[{}]}]}",
	};
	for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
		CHECK(tf_write_file(cat2, broken[i], strlen(broken[i])) == 0);
		CHECK(bw_catalog_update(cat2, &c2, &e) == BW_EFORMAT);
		CHECK(bw_catalog_check(cat2, &c2, &e) == BW_EFORMAT);
		t = (char *)tf_slurp(cat2, NULL);
		CHECK(t && strcmp(t, broken[i]) == 0);
		free(t);
	}
	CHECK(no_temp_files());
	/* a catalog in a directory that does not exist */
	char *nodir = path_in("nodir/cat.json");
	CHECK(bw_catalog_update(nodir, &c2, &e) == BW_EIO);
}

/* box_json_load: jansson with duplicate names refused, the depth and
 * value limits, and errors as BW_EFORMAT naming line and column. */
static void test_json(void)
{
	struct {
		const char *text;
		int ok;
	} cases[] = {
		{ "{}", 1 }, { " [ ] ", 1 }, { "[\"a\\u00e9\\ud83d\\ude00\"]", 1 },
		{ "[-0.5e+3]", 1 }, { "[0]", 1 }, { "[1,2,3]", 1 },
		{ "[01]", 0 }, { "[1.]", 0 }, { "[.5]", 0 }, { "[1e]", 0 }, { "[-]", 0 },
		{ "[\"\\ud83d\"]", 0 }, { "[\"\\ude00\"]", 0 }, { "[\"\\u0000\"]", 0 },
		{ "[\"\\x\"]", 0 }, { "[\"a\nb\"]", 0 }, { "[\"\xff\"]", 0 },
		{ "[\"\xc0\x80\"]", 0 }, { "[\"abc", 0 }, { "[1,]", 0 },
		{ "{\"a\":1,}", 0 }, { "{\"a\":1,\"a\":2}", 0 }, { "{} x", 0 },
		{ "\xef\xbb\xbf{}", 0 }, { "[tru]", 0 }, { "[nul]", 0 }, { "", 0 },
		{ "{\"a\" 1}", 0 }, { "{1:2}", 0 },
		/* a scalar alone is no catalog and no manifest line */
		{ "0", 0 }, { "\"a\"", 0 },
		/* brackets and commas inside strings count for nothing */
		{ "[\"[[[[,,,,\\\"[[\"]", 1 },
	};
	struct bw_error e;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *v = NULL;
		int r = box_json_load(cases[i].text, strlen(cases[i].text), "t", &v, &e);
		if ((r == 0) != cases[i].ok)
			fprintf(stderr, "json case %zu: got %d\n", i, r);
		CHECK((r == 0) == cases[i].ok);
		CHECK(r == 0 || r == BW_EFORMAT);
		CHECK((r == 0) == (v != NULL));
		json_decref(v);
	}
	/* the error names the line and column */
	json_t *v = NULL;
	const char *dup = "{\n  \"a\": 1,\n  \"a\": 2\n}";
	CHECK(box_json_load(dup, strlen(dup), "cat.json", &v, &e) == BW_EFORMAT);
	CHECK(strncmp(e.msg, "cat.json: JSON at line 3, column ", 33) == 0 &&
	      strstr(e.msg, "duplicate"));
	if (!strstr(e.msg, "duplicate"))
		fprintf(stderr, "duplicate: %s\n", e.msg);
	/* depth limit: 64 nested arrays parse, 65 do not */
	char deep[2 * (BOX_JSON_MAX_DEPTH + 1) + 1];
	for (int depth = BOX_JSON_MAX_DEPTH; depth <= BOX_JSON_MAX_DEPTH + 1; depth++) {
		memset(deep, '[', (size_t)depth);
		memset(deep + depth, ']', (size_t)depth);
		v = NULL;
		int r = box_json_load(deep, 2 * (size_t)depth, "t", &v, &e);
		CHECK(depth == BOX_JSON_MAX_DEPTH ? r == 0 : r == BW_EFORMAT);
		json_decref(v);
	}
	/* value limit: BOX_JSON_MAX_VALUES values parse, one more does not */
	size_t n = BOX_JSON_MAX_VALUES;
	char *many = malloc(2 * n + 2);
	if (many) {
		for (int extra = 0; extra <= 1; extra++) {
			size_t len = 0, count = n - 1 + (size_t)extra;   /* + the array */
			many[len++] = '[';
			for (size_t i = 0; i < count; i++) {
				if (i)
					many[len++] = ',';
				many[len++] = '0';
			}
			many[len++] = ']';
			v = NULL;
			int r = box_json_load(many, len, "t", &v, &e);
			CHECK(extra ? r == BW_EFORMAT : r == 0);
			json_decref(v);
		}
		free(many);
	}
	/* escapes are decoded */
	const char *s = "[\"q\\\" b\\\\ \\t \\u001f \\u00e9\"]";
	v = NULL;
	CHECK(box_json_load(s, strlen(s), "t", &v, &e) == 0);
	CHECK(v && json_array_size(v) == 1 &&
	      strcmp(json_string_value(json_array_get(v, 0)), "q\" b\\ \t \x1f \xc3\xa9") == 0);
	json_decref(v);
}

/* ---- SHA-256 -------------------------------------------------------------- */

static void test_sha256(void)
{
	struct bw_error e;
	char h[65];
	char *f = path_in("sha");
	CHECK(tf_write_file(f, "abc", 3) == 0);
	CHECK(bw_sha256_file(f, h, &e) == 0);
	CHECK(strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
	CHECK(tf_write_file(f, "", 0) == 0);
	CHECK(bw_sha256_file(f, h, &e) == 0);
	CHECK(strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
	char *million = malloc(1000000);
	memset(million, 'a', 1000000);
	CHECK(tf_write_file(f, million, 1000000) == 0);
	free(million);
	CHECK(bw_sha256_file(f, h, &e) == 0);
	CHECK(strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
	/* 3 MiB + 5 bytes (several read chunks) against coreutils */
	size_t n = (3u << 20) + 5;
	uint8_t *big = malloc(n);
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		big[i] = (uint8_t)(x >> 16);
	}
	CHECK(tf_write_file(f, big, n) == 0);
	free(big);
	CHECK(bw_sha256_file(f, h, &e) == 0);
	char out[256];
	char *argv[] = { "sha256sum", f, NULL };
	CHECK(run_capture(argv, out, sizeof out) == 0);
	CHECK(strncmp(out, h, 64) == 0);
	CHECK(bw_sha256_file(path_in("no-such-file"), h, &e) == BW_ENOTFOUND);
}

static void rm_dir(void)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlink(path_in(de->d_name));
	closedir(d);
	rmdir(dir);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 99;
	}
	char out[256];
	char *argv[] = { "xmllint", "--version", NULL };
	have_xmllint = run_capture(argv, out, sizeof out) == 0;
	test_ovf();
	test_refusals();
	test_vagrantfile();
	test_box_write();
	test_ovf_hardware_uuid();
	test_vagrantfile_libvirt();
	test_box_write_hyperv_vmware();
	test_metadata();
	test_box_write_libvirt();
	test_reproducible();
	test_catalog();
	test_json();
	test_sha256();
	rm_dir();
	return check_done("test_box");
}
