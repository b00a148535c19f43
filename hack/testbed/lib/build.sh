# shellcheck shell=bash
# Builds etcd and the Kubernetes binaries at pinned versions from the Go module proxy into
# $TB_CACHE (outside the clone, keyed by version, kept between runs), and the two local images
# (pause, busybox) that pods use: no registry is reachable from the testbed.

k8s_ldflags() {
  local v=v$K8S_VERSION maj=${K8S_VERSION%%.*} min pkg f="-s -w"
  min=${K8S_VERSION#*.}; min=${min%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$maj -X $pkg.gitMinor=$min"
    f+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$f"
}

# build_k8s: kube-apiserver, kubelet, kube-scheduler, kube-controller-manager, kubectl.
build_k8s() {
  local cmds=(kube-apiserver kubelet kube-scheduler kube-controller-manager kubectl) need=() b
  for b in "${cmds[@]}"; do [ -x "$K8S_BIN/$b" ] || need+=("$b"); done
  [ ${#need[@]} -eq 0 ] && { log "kubernetes v$K8S_VERSION cached in $K8S_BIN"; return 0; }
  local src=$TB_CACHE/src/k8s-v$K8S_VERSION staging=0.${K8S_VERSION#1.} t0=$SECONDS
  mkdir -p "$src" "$K8S_BIN"
  (
    cd "$src" || exit 1
    if [ ! -f go.sum ] || [ ! -f tools.go ]; then
      progress "resolving k8s.io/kubernetes v$K8S_VERSION modules"
      rm -f go.mod go.sum
      go mod init k8sbuild >/dev/null 2>&1
      go mod edit -require="k8s.io/kubernetes@v$K8S_VERSION"
      local gomod m
      gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | jq -r .GoMod)
      [ -f "$gomod" ] || die "cannot download k8s.io/kubernetes@v$K8S_VERSION (log: $src)"
      # k8s.io/kubernetes replaces its staging modules with ./staging/...: use the published ones.
      for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[A-Za-z0-9._-]*\) => ./staging/.*#\1#p' "$gomod"); do
        go mod edit -replace="$m=$m@v$staging"
      done
      {
        echo '//go:build tools'; echo; echo 'package tools'; echo; echo 'import ('
        for b in "${cmds[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$b\""; done
        echo ')'
      } >tools.go
      go mod tidy >tidy.log 2>&1 || { tail -20 tidy.log >&2; die "go mod tidy for kubernetes failed (log: $src/tidy.log)"; }
    fi
    local pkgs=()
    for b in "${need[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
    progress "building ${need[*]} v$K8S_VERSION (cold: about 10 minutes on 2 cores; log: $src/build.log)"
    mkdir -p out
    # one go build for all binaries: the shared packages are compiled once
    go build -ldflags "$(k8s_ldflags)" -o out/ "${pkgs[@]}" >build.log 2>&1 &
    local pid=$! n=0
    while kill -0 "$pid" 2>/dev/null; do
      sleep 5; n=$((n + 5))
      [ $((n % 60)) = 0 ] && progress "  still building kubernetes (${n}s)"
    done
    wait "$pid" || { tail -30 build.log >&2; die "kubernetes build failed (log: $src/build.log)"; }
    for b in "${need[@]}"; do mv "out/$b" "$K8S_BIN/$b"; done
  ) || exit 1
  timing "build-kubernetes" $((SECONDS - t0))
}

build_etcd() {
  [ -x "$ETCD_BIN/etcd" ] && { log "etcd v$ETCD_VERSION cached"; return 0; }
  local src=$TB_CACHE/src/etcd-v$ETCD_VERSION t0=$SECONDS
  mkdir -p "$src" "$ETCD_BIN"
  (
    cd "$src" || exit 1
    progress "building etcd v$ETCD_VERSION (log: $src/build.log)"
    [ -f go.mod ] || go mod init etcdbuild >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >get.log 2>&1 || { tail get.log >&2; die "go get etcd failed (log: $src/get.log)"; }
    go build -ldflags "-s -w" -o etcd.tmp go.etcd.io/etcd/server/v3 >build.log 2>&1 \
      || { tail -30 build.log >&2; die "etcd build failed (log: $src/build.log)"; }
    mv etcd.tmp "$ETCD_BIN/etcd"
  ) || exit 1
  timing "build-etcd" $((SECONDS - t0))
}

# mkimage OUT.tar NAME ROOTFS ENTRYPOINT_JSON CMD_JSON: a one-layer OCI image-layout tarball.
mkimage() {
  local out=$1 name=$2 rootfs=$3 ep=$4 cmd=$5 w diffid ld ls cd_ cs md ms
  w=$(mktemp -d); mkdir -p "$w/blobs/sha256"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$w/layer.tar" .
  diffid=$(sha256sum "$w/layer.tar" | cut -d' ' -f1); gzip -n "$w/layer.tar"
  ld=$(sha256sum "$w/layer.tar.gz" | cut -d' ' -f1); ls=$(stat -c %s "$w/layer.tar.gz")
  mv "$w/layer.tar.gz" "$w/blobs/sha256/$ld"
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Entrypoint":%s,"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$ep" "$cmd" "$diffid" >"$w/c"
  cd_=$(sha256sum "$w/c" | cut -d' ' -f1); cs=$(stat -c %s "$w/c"); mv "$w/c" "$w/blobs/sha256/$cd_"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$cd_" "$cs" "$ld" "$ls" >"$w/m"
  md=$(sha256sum "$w/m" | cut -d' ' -f1); ms=$(stat -c %s "$w/m"); mv "$w/m" "$w/blobs/sha256/$md"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$md" "$ms" "$name" "${name##*:}" >"$w/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$w/oci-layout"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$w" -cf "$out.tmp" oci-layout index.json blobs
  mv "$out.tmp" "$out"; rm -rf "$w"
}

build_images() {
  local d=$TB_CACHE/images
  [ -f "$d/pause.tar" ] && [ -f "$d/busybox.tar" ] && { log "images cached"; return 0; }
  mkdir -p "$d"
  command -v gcc >/dev/null || die "gcc missing (package gcc)"
  [ -x /bin/busybox ] || die "/bin/busybox missing (package busybox-static)"
  local w; w=$(mktemp -d)
  cat >"$w/pause.c" <<'EOF'
/* pause: reap children, exit on SIGINT/SIGTERM, otherwise sleep. */
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
static void on_term(int s) { (void)s; _exit(0); }
static void on_chld(int s) { (void)s; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_term; sigaction(SIGINT, &sa, 0); sigaction(SIGTERM, &sa, 0);
  sa.sa_handler = on_chld; sa.sa_flags = SA_NOCLDSTOP; sigaction(SIGCHLD, &sa, 0);
  for (;;) pause();
}
EOF
  mkdir -p "$w/pause" "$w/bb/bin" "$w/bb/etc" "$w/bb/tmp" "$w/bb/proc" "$w/bb/sys" "$w/bb/dev" "$w/bb/root"
  gcc -static -Os -o "$w/pause/pause" "$w/pause.c" && strip "$w/pause/pause"
  case $(ldd /bin/busybox 2>&1 || true) in *"not a dynamic"*) ;; *) die "/bin/busybox is not static (install busybox-static)" ;; esac
  cp /bin/busybox "$w/bb/bin/busybox"
  local a
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$w/bb/bin/$a"; done
  chmod 1777 "$w/bb/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$w/bb/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$w/bb/etc/group"
  mkimage "$d/pause.tar" "$PAUSE_IMAGE" "$w/pause" '["/pause"]' 'null'
  mkimage "$d/busybox.tar" "$TEST_IMAGE" "$w/bb" 'null' '["sh"]'
  rm -rf "$w"
}

build_all() { build_etcd; build_k8s; build_images; }
