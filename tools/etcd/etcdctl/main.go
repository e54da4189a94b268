// Command etcdctl is etcd's own client, built for side-by-side benchmarks
// against mooring on the same clusters.
package main

import (
	ctlv3 "go.etcd.io/etcd/etcdctl/v3/ctlv3"
)

func main() {
	ctlv3.MustStart()
}
