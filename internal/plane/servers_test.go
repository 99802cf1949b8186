package plane

import (
	"net/netip"
	"strings"
	"testing"
)

// An address set at run time is handed to the next generation, which moves the server
// there, unless its configuration gives the server another address than the first's.
func TestMovedAddressCarried(t *testing.T) {
	text := func(addr string) string {
		return "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n" +
			"backend be\n    server s1 " + addr + "\n    server s2 127.0.0.1:2\n"
	}
	w := mkWorld(t, text("127.0.0.1:1"), Options{})
	if st := w.gen.CarriedState(); st != nil {
		t.Fatalf("carried before any change:\n%s", st)
	}
	err := w.gen.SetServerAddr("be", "s1", AddrChange{IP: netip.MustParseAddr("127.0.0.5"), SetIP: true, Port: 81, SetPort: true})
	if err != nil {
		t.Fatal(err)
	}
	st := w.gen.CarriedState()
	if !strings.Contains(string(st), " s1 127.0.0.5 ") {
		t.Fatalf("carried state without the new address:\n%s", st)
	}

	same := mkWorld(t, text("127.0.0.1:1"), Options{CarriedState: st, CarriedFrom: "test"})
	if ip, port, _, _, _ := same.gen.ServerAddr("be", "s1"); ip.String() != "127.0.0.5" || port != 81 {
		t.Errorf("next generation, same configuration: s1 at %s:%d, want 127.0.0.5:81", ip, port)
	}
	if ip, port, _, _, _ := same.gen.ServerAddr("be", "s2"); ip.String() != "127.0.0.1" || port != 2 {
		t.Errorf("s2 moved to %s:%d", ip, port)
	}
	// It carries the address on in turn.
	if st2 := same.gen.CarriedState(); !strings.Contains(string(st2), " s1 127.0.0.5 ") {
		t.Errorf("second hand-over lost the address:\n%s", st2)
	}

	changed := mkWorld(t, text("127.0.0.1:7"), Options{CarriedState: st, CarriedFrom: "test"})
	if ip, port, _, _, _ := changed.gen.ServerAddr("be", "s1"); ip.String() != "127.0.0.1" || port != 7 {
		t.Errorf("next generation, address changed in the configuration: s1 at %s:%d, want 127.0.0.1:7", ip, port)
	}
}
