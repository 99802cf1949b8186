package lifecycle

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFindMemLimit(t *testing.T) {
	write := func(root, name, text string) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("v2, the unit's MemoryMax= on a parent", func(t *testing.T) {
		root := t.TempDir()
		write(root, "proc/self/cgroup", "0::/system.slice/lb.service/main\n")
		write(root, "sys/fs/cgroup/system.slice/lb.service/main/memory.max", "max\n")
		write(root, "sys/fs/cgroup/system.slice/lb.service/main/memory.current", "1000\n")
		write(root, "sys/fs/cgroup/system.slice/lb.service/memory.max", "67108864\n")
		write(root, "sys/fs/cgroup/system.slice/lb.service/memory.current", "4096\n")
		write(root, "sys/fs/cgroup/system.slice/memory.max", "max\n")
		m, err := findMemLimit(root)
		if err != nil || m == nil {
			t.Fatalf("%v, %v", m, err)
		}
		if u, err := m.read(); m.limit != 64<<20 || u != 4096 || err != nil {
			t.Errorf("limit %d, usage %d, %v; want 64 MiB, 4096", m.limit, u, err)
		}
	})
	t.Run("v1 memory controller in a hybrid hierarchy", func(t *testing.T) {
		root := t.TempDir()
		write(root, "proc/self/cgroup", "4:memory:/box\n1:cpu,cpuacct:/\n0::/\n")
		write(root, "sys/fs/cgroup/memory/box/memory.limit_in_bytes", "33554432\n")
		write(root, "sys/fs/cgroup/memory/box/memory.usage_in_bytes", "123\n")
		write(root, "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n")
		m, err := findMemLimit(root)
		if err != nil || m == nil {
			t.Fatalf("%v, %v", m, err)
		}
		if u, _ := m.read(); m.limit != 32<<20 || u != 123 {
			t.Errorf("limit %d, usage %d; want 32 MiB, 123", m.limit, u)
		}
	})
	t.Run("no limit", func(t *testing.T) {
		root := t.TempDir()
		write(root, "proc/self/cgroup", "0::/user.slice\n")
		write(root, "sys/fs/cgroup/user.slice/memory.max", "max\n")
		write(root, "sys/fs/cgroup/memory.max", "max\n")
		if m, err := findMemLimit(root); m != nil || err != nil {
			t.Errorf("%+v, %v; want none", m, err)
		}
	})
}
