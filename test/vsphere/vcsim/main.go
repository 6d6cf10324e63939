// Command vcsim runs govmomi's vSphere simulator (Debian golang-github-vmware-govmomi-dev)
// for extentlog's tests: one ESXi host with one VM whose disk has the capacity the test
// asks for, served on 127.0.0.1 over HTTP, or HTTPS with a self-signed certificate (-tls).
//
// vcsim implements login, the property collector, ReconfigVM_Task (changeTrackingEnabled),
// CreateSnapshot_Task and RemoveSnapshot_Task, but not changed block tracking: the test's
// CBT emulator (test/vsphere/cbt-emulator.ts) answers QueryChangedDiskAreas and tells this
// process, through POST /extentlog/snapshot-change-ids, which changeId each disk of a new
// snapshot carries (VirtualDiskFlatVer2BackingInfo.changeId of the snapshot's config).
//
// Build offline: GOPATH=/usr/share/gocode GO111MODULE=off go build -o vcsim .
// It prints its SDK URL on the first line of stdout and runs until stdin closes or it is
// signalled.
package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

type changeIDRequest struct {
	VM        string            `json:"vm"`
	ChangeIDs map[string]string `json:"changeIds"`
}

// setSnapshotChangeIDs gives the disks of the VM's current snapshot their changeIds. The
// snapshot's config shares device objects with the VM's, so the disks are copied first.
func setSnapshotChangeIDs(w http.ResponseWriter, r *http.Request) {
	var request changeIDRequest
	if err := json.NewDecoder(r.Body).Decode(&request); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ref := types.ManagedObjectReference{Type: "VirtualMachine", Value: request.VM}
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		http.Error(w, "no such VM", http.StatusNotFound)
		return
	}
	status := http.StatusOK
	simulator.Map.WithLock(vm, func() {
		if vm.Snapshot == nil || vm.Snapshot.CurrentSnapshot == nil {
			status = http.StatusConflict
			return
		}
		snapshot, ok := simulator.Map.Get(*vm.Snapshot.CurrentSnapshot).(*simulator.VirtualMachineSnapshot)
		if !ok {
			status = http.StatusConflict
			return
		}
		devices := make([]types.BaseVirtualDevice, len(snapshot.Config.Hardware.Device))
		for i, device := range snapshot.Config.Hardware.Device {
			devices[i] = device
			disk, isDisk := device.(*types.VirtualDisk)
			if !isDisk {
				continue
			}
			changeID, wanted := request.ChangeIDs[strconv.Itoa(int(disk.Key))]
			backing, flat := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
			if !wanted || !flat {
				continue
			}
			diskCopy := *disk
			backingCopy := *backing
			backingCopy.ChangeId = changeID
			diskCopy.Backing = &backingCopy
			devices[i] = &diskCopy
		}
		snapshot.Config.Hardware.Device = devices
	})
	w.WriteHeader(status)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	capacity := flag.Int64("disk-capacity-bytes", 64<<20, "capacity of every VM disk")
	useTLS := flag.Bool("tls", false, "serve HTTPS with a self-signed certificate for 127.0.0.1")
	flag.Parse()

	model := simulator.ESX()
	model.Machine = 1
	defer model.Remove()
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	for _, entity := range simulator.Map.All("VirtualMachine") {
		vm := entity.(*simulator.VirtualMachine)
		for _, device := range vm.Config.Hardware.Device {
			if disk, ok := device.(*types.VirtualDisk); ok {
				disk.CapacityInBytes = *capacity
				disk.CapacityInKB = *capacity / 1024
			}
		}
	}
	model.Service.HandleFunc("/extentlog/snapshot-change-ids", setSnapshotChangeIDs)
	model.Service.Listen = &url.URL{Host: *listen}
	if *useTLS {
		model.Service.TLS = new(tls.Config)
	}
	server := model.Service.NewServer()
	defer server.Close()
	sdk := *server.URL
	sdk.User = nil
	fmt.Println(sdk.String())

	done := make(chan struct{})
	go func() {
		// Until stdin closes: the parent went away.
		reader := bufio.NewReader(os.Stdin)
		for {
			if _, err := reader.ReadByte(); err != nil {
				close(done)
				return
			}
		}
	}()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-signals:
	case <-done:
	}
}
