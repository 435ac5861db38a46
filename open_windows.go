package main

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

// startedFromExplorer reports whether labchat.exe has a console of its own, as it has when
// double-clicked in Explorer: a console shared with a shell lists that shell's process too.
func startedFromExplorer() bool {
	proc := windows.NewLazySystemDLL("kernel32.dll").NewProc("GetConsoleProcessList")
	if proc.Find() != nil {
		return false
	}
	var pids [2]uint32
	n, _, _ := proc.Call(uintptr(unsafe.Pointer(&pids[0])), 2)
	return n == 1
}
