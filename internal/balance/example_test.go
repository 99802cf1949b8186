package balance_test

import (
	"fmt"

	"lb/internal/balance"
)

func ExampleNew() {
	srvs := []balance.Server{
		{ID: 1, Weight: 5, Usable: true},
		{ID: 2, Weight: 1, Usable: true},
		{ID: 3, Weight: 1, Usable: true},
		{ID: 4, Weight: 1, Usable: true, Backup: true},
	}
	rr, _ := balance.New("roundrobin", balance.Options{})
	var ids []int
	for range 7 {
		ids = append(ids, srvs[rr.Pick(srvs, 0)].ID)
	}
	fmt.Println(ids)
	// Every active server down: the first backup takes over.
	for i := range 3 {
		srvs[i].Usable = false
	}
	fmt.Println(srvs[rr.Pick(srvs, 0)].ID)
	// Output:
	// [1 1 2 1 3 1 1]
	// 4
}

// Example_hash wires "balance uri" with "hash-type consistent": New builds
// the placement, HashURI derives the request's key as HAProxy does and Key
// turns it into Pick's argument.
func Example_hash() {
	ht, _ := balance.ParseHashType("consistent") // as written after hash-type
	uriOpts, _ := balance.ParseURIOptions([]string{"depth", "1"})
	algo, _ := balance.New("uri", balance.Options{HashType: ht})
	srvs := []balance.Server{
		{ID: 1, Weight: 1, Usable: true},
		{ID: 2, Weight: 2, Usable: true},
		{ID: 3, Weight: 1, Usable: true},
	}
	pick := func(uri string) int {
		key := balance.Key(balance.HashURI([]byte(uri), uriOpts, ht.Func))
		return srvs[algo.Pick(srvs, key)].ID
	}
	// depth 1 hashes "/img" for both: the same server.
	fmt.Println(pick("/img/a.png") == pick("/img/b.png?v=2"))
	// A request without a key (url_param or hdr absent) gets Key(_, false),
	// which is 0: round robin over the ring.
	fmt.Println(balance.Key(balance.HashParam([]byte("/p?x=1"), "id", ht.Func)))
	// Output:
	// true
	// 0
}
