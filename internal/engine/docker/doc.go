// Package docker is the docker driver: it makes deckies real as containers
// through the Docker Engine API (the official client, never a shell).
//
// Per decky it creates a base container that owns the decky's IP address on
// the fleet network (bridge, macvlan or ipvlan L2) and carries its OS
// family's sysctls (TTL, TCP options) plus net.ipv4.ip_unprivileged_port_start=0,
// and one container per service that joins the base's network namespace and
// runs `decnet decky run --service <svc>` (internal/engine/runtime). All of
// them run one image, decnet-decky:<hash of the binary>, built FROM scratch
// from this static binary, as uid 65534 with a read-only root filesystem, no
// capabilities and memory and pid limits.
//
// Containers and networks carry decnet.* labels; status, teardown and
// idempotent redeploys find them by label and compare a hash of their spec.
// Every operation of a Driver is scoped to one docker network name.
package docker
