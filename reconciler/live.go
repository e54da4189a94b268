package reconciler

import "github.com/mooringhq/mooring/render/model"

// LiveModel returns the commit and the network model of the revision the
// Reconciler last saw live for the target named name (applied, or read back
// and rendered), so a caller such as the status page shows what is live
// without rendering it again; "" and nil before any run of the target.
// Callers must not modify the model.
func (r *Reconciler) LiveModel(name string) (string, *model.Model) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rm := r.live[name]; rm != nil {
		return rm.commit, rm.model
	}
	return "", nil
}
