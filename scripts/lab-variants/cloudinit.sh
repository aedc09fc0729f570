# shellcheck shell=bash disable=SC2034  # VARIANT_INCLUDE is read by build-lab-image.sh
# Lab image variant "cloudinit": cloud-init reading only a NoCloud seed (the cidata ISO the
# cloud_init module builds), so boots never probe a metadata service on the network.
# python3-cffi-backend: debootstrap does not resolve virtual packages (python3-cryptography
# depends on python3-cffi-backend-api-min, which it provides).
VARIANT_INCLUDE=cloud-init,python3-cffi-backend

variant_customize() {
  mkdir -p "$ROOTFS/etc/cloud/cloud.cfg.d"
  cat >"$ROOTFS/etc/cloud/cloud.cfg.d/90-virtfleet-lab.cfg" <<'CFG'
# virtfleet lab: the seed ISO is the only data source
datasource_list: [NoCloud, None]
CFG
}
