// Package deploy holds what puts recvault into production: the container
// image (Dockerfile, whose health check is `recvault healthcheck`), the
// hardened systemd unit (recvault.service, recvault.sysusers) and its
// example environment file (recvault.env). It has no Go code of its own:
// its tests check those files with the tools that will read them
// (systemd-analyze), so that a broken unit fails here and not on a server.
package deploy
