/*
 * box.ovf: the OVF 1.0 descriptor of a Vagrant box for the virtualbox
 * provider (FORMATS.md "Vagrant box (virtualbox provider)").
 *
 * Vagrant never reads this file; it hands it to `VBoxManage import`.
 * Other tools read it with XPath on literal prefixes, so it is written the
 * way VirtualBox's own exporter writes OVF 1.0, compared line by line with:
 *  - VirtualBox src/VBox/Main/src-server/ApplianceImplExport.cpp
 *    (Appliance::i_buildXMLForOneVirtualSystem): section order, the Info
 *    texts, every rasd: element in alphabetical order as the standard
 *    wants, Caption = ElementName, the IDE controller exported as two OVF
 *    controllers (ideController0/1, Address 0/1) for its two channels,
 *    the NIC as ResourceSubType E1000 for the 82540EM, vbox:Machine after
 *    the VirtualHardwareSection with an ovf:Info child;
 *  - VirtualBox src/VBox/Main/include/ovfreader.h and ApplianceImpl.cpp
 *    (g_aOsTypes): the CIM OS id of "Windows2016_64" is 118,
 *    CIMOSType_CIMOS_WindowsServer2016, which is what the exporter writes
 *    (112 is CIMOS_WindowsServer2012);
 *  - archlinux/arch-boxes box.ovf (a template VirtualBox imports, built
 *    without VirtualBox) and a real VirtualBox 6 export (vbox:Machine
 *    version "1.16-macosx").
 *
 * Differences from a real export, on purpose:
 *  - No rasd:Address on the Ethernet Item (VirtualBox writes none either);
 *    the MAC is in vbox:Machine's Adapter, the one place VirtualBox's
 *    importer reads it, and is repeated as config.vm.base_mac in the
 *    Vagrantfile: VBoxManage import draws new MACs unless told to keep
 *    them, and Vagrant then sets base_mac (action/match_mac_address.rb).
 *  - vbox:Machine holds only what this box needs (CPU, memory, boot order,
 *    BIOS IOAPIC, the NAT adapter, the IDE controller and its disk) instead
 *    of a full settings dump; VirtualBox fills the rest with defaults for
 *    the OS type.  No DVD drive, sound card, USB or floppy Items.
 *  - version="1.16-linux" on vbox:Machine as arch-boxes writes: VirtualBox
 *    5.1+ applies the defaults of that settings version (without it, 1.15:
 *    Settings.cpp VBOX_XML_IMPORT_VERSION).
 *  - No ovf:size on the File: VirtualBox writes none for OVF 1.0 either.
 * Kept as VirtualBox has it, though it surprises: the settings inside
 * vbox:Machine (<Hardware>, <StorageControllers>...) are unprefixed, so an
 * XML parser puts them in the default namespace, the OVF envelope's, not
 * in vbox:'s.  VirtualBox's reader matches them by name alone; readers
 * should match them by local name (tests/e2e/box.sh does).
 */
#include <inttypes.h>
#include <stdlib.h>

#include "box/box_internal.h"

/* The OVF 1.0 envelope namespace and the prefixes exactly as VirtualBox
 * declares them (ApplianceImplExport.cpp, OVF 1.0 branch). */
static const char ovf_envelope_open[] =
	"<?xml version=\"1.0\"?>\n"
	"<Envelope ovf:version=\"1.0\" xml:lang=\"en-US\""
	" xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\""
	" xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\""
	" xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData\""
	" xmlns:vssd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData\""
	" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
	" xmlns:vbox=\"http://www.virtualbox.org/ovf/machine\">\n";

/* CIM_OperatingSystem OSType 118 = Microsoft Windows Server 2016, the
 * id VirtualBox exports for its Windows2016_64 type (see the head). */
#define OVF_CIM_OS_WINDOWS_2016 118
#define OVF_VBOX_OS_TYPE        "Windows2016_64"

/* InstanceIDs of the Items, numbered as VirtualBox numbers them: CPU,
 * memory, the controllers, then (second pass) the disk and the NIC. */
enum {
	OVF_ID_CPU = 1,
	OVF_ID_MEMORY = 2,
	OVF_ID_IDE0 = 3,
	OVF_ID_IDE1 = 4,
	OVF_ID_DISK = 5,
	OVF_ID_NIC = 6,
};

/* CIM_ResourceAllocationSettingData ResourceType values (ovfreader.h). */
enum {
	RASD_PROCESSOR = 3,
	RASD_MEMORY = 4,
	RASD_IDE_CONTROLLER = 5,
	RASD_ETHERNET_ADAPTER = 10,
	RASD_HARD_DISK = 17,
};

static void ovf_hardware_items(struct box_buf *b, const struct box_resolved *r)
{
	box_buf_printf(b,
		"      <Item>\n"
		"        <rasd:Caption>%u virtual CPU</rasd:Caption>\n"
		"        <rasd:Description>Number of virtual CPUs</rasd:Description>\n"
		"        <rasd:ElementName>%u virtual CPU</rasd:ElementName>\n"
		"        <rasd:InstanceID>%d</rasd:InstanceID>\n"
		"        <rasd:ResourceType>%d</rasd:ResourceType>\n"
		"        <rasd:VirtualQuantity>%u</rasd:VirtualQuantity>\n"
		"      </Item>\n",
		r->cpus, r->cpus, OVF_ID_CPU, RASD_PROCESSOR, r->cpus);
	box_buf_printf(b,
		"      <Item>\n"
		"        <rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits>\n"
		"        <rasd:Caption>%u MB of memory</rasd:Caption>\n"
		"        <rasd:Description>Memory Size</rasd:Description>\n"
		"        <rasd:ElementName>%u MB of memory</rasd:ElementName>\n"
		"        <rasd:InstanceID>%d</rasd:InstanceID>\n"
		"        <rasd:ResourceType>%d</rasd:ResourceType>\n"
		"        <rasd:VirtualQuantity>%u</rasd:VirtualQuantity>\n"
		"      </Item>\n",
		r->memory_mb, r->memory_mb, OVF_ID_MEMORY, RASD_MEMORY,
		r->memory_mb);
	/* One PIIX4 controller, two channels: two OVF IDE controllers. */
	for (int ch = 0; ch < 2; ch++)
		box_buf_printf(b,
			"      <Item>\n"
			"        <rasd:Address>%d</rasd:Address>\n"
			"        <rasd:Caption>ideController%d</rasd:Caption>\n"
			"        <rasd:Description>IDE Controller</rasd:Description>\n"
			"        <rasd:ElementName>ideController%d</rasd:ElementName>\n"
			"        <rasd:InstanceID>%d</rasd:InstanceID>\n"
			"        <rasd:ResourceSubType>PIIX4</rasd:ResourceSubType>\n"
			"        <rasd:ResourceType>%d</rasd:ResourceType>\n"
			"      </Item>\n",
			ch, ch, ch, ch ? OVF_ID_IDE1 : OVF_ID_IDE0,
			RASD_IDE_CONTROLLER);
	/* The disk: primary master (controller 0, AddressOnParent 0), the
	 * port the VMDK's ddb.adapterType "ide" and the vbox:Machine
	 * attachment (port 0, device 0) name too. */
	box_buf_printf(b,
		"      <Item>\n"
		"        <rasd:AddressOnParent>0</rasd:AddressOnParent>\n"
		"        <rasd:Caption>disk1</rasd:Caption>\n"
		"        <rasd:Description>Disk Image</rasd:Description>\n"
		"        <rasd:ElementName>disk1</rasd:ElementName>\n"
		"        <rasd:HostResource>/disk/vmdisk1</rasd:HostResource>\n"
		"        <rasd:InstanceID>%d</rasd:InstanceID>\n"
		"        <rasd:Parent>%d</rasd:Parent>\n"
		"        <rasd:ResourceType>%d</rasd:ResourceType>\n"
		"      </Item>\n",
		OVF_ID_DISK, OVF_ID_IDE0, RASD_HARD_DISK);
	box_buf_printf(b,
		"      <Item>\n"
		"        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>\n"
		"        <rasd:Caption>Ethernet adapter on 'NAT'</rasd:Caption>\n"
		"        <rasd:Connection>NAT</rasd:Connection>\n"
		"        <rasd:ElementName>Ethernet adapter on 'NAT'</rasd:ElementName>\n"
		"        <rasd:InstanceID>%d</rasd:InstanceID>\n"
		"        <rasd:ResourceSubType>E1000</rasd:ResourceSubType>\n"
		"        <rasd:ResourceType>%d</rasd:ResourceType>\n"
		"      </Item>\n",
		OVF_ID_NIC, RASD_ETHERNET_ADAPTER);
}

/* VirtualBox's own machine settings (VirtualBox-settings.xsd), read by
 * the importer when present (MachineConfigFile::importMachineXML). */
static void ovf_vbox_machine(struct box_buf *b, const struct box_resolved *r,
			     const char *disk_uuid, const char *machine_uuid)
{
	box_buf_printf(b,
		"    <vbox:Machine ovf:required=\"false\" version=\"1.16-linux\" uuid=\"{%s}\" name=\"",
		machine_uuid);
	box_buf_xml(b, r->vm_name);
	box_buf_printf(b, "\" OSType=\"%s\" snapshotFolder=\"Snapshots\">\n",
		       OVF_VBOX_OS_TYPE);
	box_buf_puts(b,
		"      <ovf:Info>Complete VirtualBox machine configuration in VirtualBox format</ovf:Info>\n");
	/* The hardware UUID (the SMBIOS system UUID the guest sees) is the
	 * uuid attribute of <Hardware>, in braces, as VirtualBox's settings
	 * writer puts it for settings version 1.9 and later when it differs
	 * from the machine's (Settings.cpp, MachineConfigFile::
	 * buildHardwareXML; read back by readHardware).  Without it the
	 * machine UUID is the hardware UUID. */
	if (r->has_hardware_uuid)
		box_buf_printf(b, "      <Hardware uuid=\"{%s}\">\n",
			       r->hardware_uuid);
	else
		box_buf_puts(b, "      <Hardware>\n");
	/* PAE and long mode: a 64-bit Windows guest needs both. */
	box_buf_printf(b,
		"        <CPU count=\"%u\">\n"
		"          <PAE enabled=\"true\"/>\n"
		"          <LongMode enabled=\"true\"/>\n"
		"        </CPU>\n"
		"        <Memory RAMSize=\"%u\"/>\n",
		r->cpus, r->memory_mb);
	/* UEFI firmware (a GPT image): <Firmware type="EFI"/> after
	 * <Memory>, where buildHardwareXML writes it. */
	if (r->firmware_efi)
		box_buf_puts(b, "        <Firmware type=\"EFI\"/>\n");
	/* IOAPIC: VirtualBox refuses to start a guest with more than one
	 * CPU without it, and 64-bit Windows expects it.  Little-endian
	 * SMBIOS UUID as VirtualBox writes for new machines, so that the UUID
	 * Windows reports is the one `--hardwareuuid` set. */
	box_buf_puts(b,
		"        <Boot>\n"
		"          <Order position=\"1\" device=\"HardDisk\"/>\n"
		"          <Order position=\"2\" device=\"DVD\"/>\n"
		"          <Order position=\"3\" device=\"None\"/>\n"
		"          <Order position=\"4\" device=\"None\"/>\n"
		"        </Boot>\n"
		"        <BIOS>\n"
		"          <IOAPIC enabled=\"true\"/>\n"
		"          <SmbiosUuidLittleEndian enabled=\"true\"/>\n"
		"        </BIOS>\n"
		"        <Network>\n");
	/* Adapter type 82540EM = Intel PRO/1000 MT Desktop, the E1000 that
	 * Nano's -OEMDrivers package drives (DESIGN.md). */
	box_buf_printf(b,
		"          <Adapter slot=\"0\" enabled=\"true\" MACAddress=\"%s\" type=\"82540EM\">\n"
		"            <NAT/>\n"
		"          </Adapter>\n"
		"        </Network>\n"
		"        <AudioAdapter enabled=\"false\"/>\n"
		"      </Hardware>\n",
		r->mac);
	box_buf_printf(b,
		"      <StorageControllers>\n"
		"        <StorageController name=\"IDE Controller\" type=\"PIIX4\" PortCount=\"2\" useHostIOCache=\"true\" Bootable=\"true\">\n"
		"          <AttachedDevice type=\"HardDisk\" hotpluggable=\"false\" port=\"0\" device=\"0\">\n"
		"            <Image uuid=\"{%s}\"/>\n"
		"          </AttachedDevice>\n"
		"        </StorageController>\n"
		"      </StorageControllers>\n"
		"    </vbox:Machine>\n",
		disk_uuid);
}

int box_ovf_text(const struct box_resolved *r, uint64_t capacity,
		 const char *disk_uuid, const char *machine_uuid, char **out,
		 struct bw_error *err)
{
	char du[37], mu[37];
	if (!bw_uuid_parse(disk_uuid, du) || !bw_uuid_parse(machine_uuid, mu))
		return bw_seterr(err, BW_EINVAL, NULL,
				 "OVF: disk and machine UUIDs must be of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex, not all zero)");
	/* A disk of zero bytes or one that is not whole sectors cannot be
	 * a VMDK's capacity (the header counts 512-byte sectors). */
	if (capacity == 0 || capacity % 512 != 0)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "OVF: disk capacity %" PRIu64 " is not a positive multiple of 512",
				 capacity);

	struct box_buf b;
	box_buf_init(&b);
	box_buf_puts(&b, ovf_envelope_open);
	box_buf_puts(&b,
		"  <References>\n"
		"    <File ovf:id=\"file1\" ovf:href=\"" BOX_DISK_NAME "\"/>\n"
		"  </References>\n"
		"  <DiskSection>\n"
		"    <Info>List of the virtual disks used in the package</Info>\n");
	box_buf_printf(&b,
		"    <Disk ovf:capacity=\"%" PRIu64 "\" ovf:diskId=\"vmdisk1\" ovf:fileRef=\"file1\""
		" ovf:format=\"http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized\""
		" vbox:uuid=\"%s\"/>\n",
		capacity, du);
	box_buf_puts(&b,
		"  </DiskSection>\n"
		"  <NetworkSection>\n"
		"    <Info>Logical networks used in the package</Info>\n"
		"    <Network ovf:name=\"NAT\">\n"
		"      <Description>Logical network used by this appliance.</Description>\n"
		"    </Network>\n"
		"  </NetworkSection>\n"
		"  <VirtualSystem ovf:id=\"");
	box_buf_xml(&b, r->vm_name);
	box_buf_puts(&b, "\">\n    <Info>A virtual machine</Info>\n");
	box_buf_printf(&b,
		"    <OperatingSystemSection ovf:id=\"%d\">\n"
		"      <Info>The kind of installed guest operating system</Info>\n"
		"      <Description>%s</Description>\n"
		"      <vbox:OSType ovf:required=\"false\">%s</vbox:OSType>\n"
		"    </OperatingSystemSection>\n",
		OVF_CIM_OS_WINDOWS_2016, OVF_VBOX_OS_TYPE, OVF_VBOX_OS_TYPE);
	box_buf_puts(&b,
		"    <VirtualHardwareSection>\n"
		"      <Info>Virtual hardware requirements for a virtual machine</Info>\n"
		"      <System>\n"
		"        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>\n"
		"        <vssd:InstanceID>0</vssd:InstanceID>\n"
		"        <vssd:VirtualSystemIdentifier>");
	box_buf_xml(&b, r->vm_name);
	box_buf_puts(&b,
		"</vssd:VirtualSystemIdentifier>\n"
		"        <vssd:VirtualSystemType>virtualbox-2.2</vssd:VirtualSystemType>\n"
		"      </System>\n");
	ovf_hardware_items(&b, r);
	box_buf_puts(&b, "    </VirtualHardwareSection>\n");
	ovf_vbox_machine(&b, r, du, mu);
	box_buf_puts(&b, "  </VirtualSystem>\n</Envelope>\n");
	return box_buf_finish(&b, out, "OVF", err);
}

int bw_box_ovf(const struct bw_box_opts *o, const char *disk_uuid,
	       const char *machine_uuid, char **out, struct bw_error *err)
{
	struct box_resolved r;
	int rc = box_resolve(o, &r, err);
	if (rc)
		return rc;
	return box_ovf_text(&r, o->disk_capacity, disk_uuid, machine_uuid, out,
			    err);
}
