package fs

import "unsafe"

// addrMod is the address of b's first byte modulo m.
func addrMod(b []byte, m int) int { return int(uintptr(unsafe.Pointer(&b[0])) % uintptr(m)) }
