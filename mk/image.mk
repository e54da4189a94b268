## image: mooring's container image (Containerfile: FROM scratch, the static
## bin/mooring and a CA bundle) as an OCI archive, bin/mooring-image.oci.tar,
## built with Debian's buildah. It needs no daemon, no registry and no user
## namespaces: the Containerfile has no RUN step, storage is vfs (plain
## folders under .cache, no overlay mount) and isolation is chroot. Load it
## with `podman load -i`, `skopeo copy oci-archive:... docker://...` or
## `ctr images import`.
IMAGE ?= localhost/mooring:$(VERSION)
IMAGE_ARCHIVE := bin/mooring-image.oci.tar
IMAGE_CONTEXT := $(CACHE)/image-context
BUILDAH := buildah --storage-driver vfs --root $(CACHE)/buildah/root --runroot $(CACHE)/buildah/run

.PHONY: image
image: bin/mooring
	@for p in buildah ca-certificates; do dpkg -s $$p >/dev/null 2>&1 || missing="$${missing:-} $$p"; done; \
	if [ -n "$${missing:-}" ]; then echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	rm -rf $(IMAGE_CONTEXT) && mkdir -p $(IMAGE_CONTEXT)
	cp bin/mooring /etc/ssl/certs/ca-certificates.crt $(IMAGE_CONTEXT)/
	$(BUILDAH) build --quiet --isolation chroot -f Containerfile -t $(IMAGE) $(IMAGE_CONTEXT)
	rm -f $(IMAGE_ARCHIVE)
	$(BUILDAH) push --quiet $(IMAGE) oci-archive:$(IMAGE_ARCHIVE):$(IMAGE)
	@# The image must run: mooring version inside it, as the entrypoint sees it.
	@c=$$($(BUILDAH) from --quiet $(IMAGE)); trap '$(BUILDAH) rm $$c >/dev/null' EXIT; \
	$(BUILDAH) run --isolation chroot $$c -- /usr/local/bin/mooring version
	@# The archive is the product; keep no copy in buildah's store.
	@$(BUILDAH) rmi $(IMAGE) >/dev/null
	@echo "$(IMAGE) -> $(IMAGE_ARCHIVE) ($$(du -h $(IMAGE_ARCHIVE) | cut -f1))"
