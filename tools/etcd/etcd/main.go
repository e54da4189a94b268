// Command etcd is the etcd server that mooring's tests and benchmarks run,
// built from the Go module proxy so the test bed needs no downloads.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
