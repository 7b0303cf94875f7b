#!/bin/bash
# Boot script of a labcatalog personal hub: EC2 user data, rendered by CloudFormation's Fn::Sub.
#
# CloudFormation fills in every placeholder (a dollar sign and a name in braces) before the
# instance sees this file; shell variables are written without braces, so the two never mix.
# Every value comes from a template parameter whose AllowedPattern excludes quotes, dollar signs
# and line breaks, so it cannot break out of its quotes. The platform's settings (identity
# provider, tier groups, owner rule) are read at every start from the tier's SSM parameters.
#
# Run by cloud-init on first boot (no argument): install Docker, mount the data volume, lay out
# its folders for the hub image's user, write the hub's environment, install this script as the
# hub's systemd service, wait for the hub to answer and signal CloudFormation. systemd then runs
# `labcatalog-hub run` at every start of the instance: fetch the secrets, log in to ECR with the
# instance role, run the hub image. The hub starts each user's server as a container of its own
# (through the Docker socket), so users' code never shares the hub's environment or files.
#
# Sourced (tests/test_personal_hub_boot.py), it only defines its functions; the paths below are
# plain variables, so a test points them at a temporary folder.
set -euo pipefail

# The placeholders: single quotes keep the shell away from CloudFormation's syntax.
# shellcheck disable=SC2016
{
  readonly stack='${AWS::StackName}'
  readonly region='${AWS::Region}'
  readonly signal_resource='${SignalResource}'
  readonly hub_image='${HubImage}'
  readonly hub_port='${HubPort}'
  readonly data_device='${DataDevice}'
  # The tier's settings, published by the platform: one SSM parameter each under this path.
  readonly settings_path='${Settings}'
  readonly principal_tag='${ProvisioningPrincipalTag}'
  # Empty: the owner is whoever launched the product (`resolve_owner`).
  readonly owner_given='${Owner}'
  readonly collaborators='${Collaborators}'

  # The hub's environment: the contract in products/hub_image/environment.md.
  readonly env_tier='${Tier}'
  readonly env_idle_timeout='${IdleTimeoutMinutes}'
  readonly env_notebook_bucket='${NotebookBucket}'
}

# Paths on the instance.
data_dir=/srv/labcatalog
env_file=/etc/labcatalog/hub.env
settings_file=/etc/labcatalog/settings
docker_socket=/var/run/docker.sock
installed=/usr/local/sbin/labcatalog-hub
readonly unit=labcatalog-hub.service
readonly container=labcatalog-hub
readonly network=labcatalog
# The network's addresses are fixed so that the hub's container has a known one: the firewall
# rule lets it, and no other container on the network, reach the instance metadata service.
readonly network_subnet=172.30.213.0/24
readonly hub_address=172.30.213.2
readonly metadata_address=169.254.169.254/32
# The hub image's user: its Dockerfile's USER and the base image's `users` group. The hub runs
# as this user, so it must own the hub's state; users' servers run as it in their own containers.
readonly image_uid=1000
readonly image_gid=100
# Where the hub container sees its state and the users' homes (the contract's variables).
readonly hub_state_dir=/srv/jupyterhub/state
readonly hub_homes_dir=/srv/jupyterhub/homes

log() {
  echo "labcatalog: $*" >&2
}

install_packages() {
  # cfn-signal first: whatever fails after this is reported to CloudFormation.
  if [ ! -x /opt/aws/bin/cfn-signal ]; then
    dnf install -y aws-cfn-bootstrap
  fi
  # The GPU image (Deep Learning Base AMI) ships Docker with the NVIDIA runtime already.
  if ! command -v docker >/dev/null 2>&1; then
    dnf install -y docker
  fi
  systemctl enable --now docker
}

mount_data_volume() {
  local device uuid
  log "waiting for the data volume at $data_device"
  for _ in $(seq 1 120); do
    [ -e "$data_device" ] && break
    sleep 5
  done
  if [ ! -e "$data_device" ]; then
    log "the data volume never appeared at $data_device"
    return 1
  fi
  device=$(readlink -f "$data_device")
  # A new volume is formatted; a volume restored from a snapshot keeps its files.
  if ! blkid "$device" >/dev/null 2>&1; then
    mkfs.xfs -L labcatalog "$device"
  fi
  uuid=$(blkid -s UUID -o value "$device")
  mkdir -p "$data_dir"
  if ! grep -q "UUID=$uuid" /etc/fstab; then
    echo "UUID=$uuid $data_dir xfs defaults,nofail 0 2" >>/etc/fstab
  fi
  mount -a
}

prepare_data_dirs() {
  # The hub's database and cookie secret: the hub's own, no one else's. `install -d` also fixes
  # a folder an older version made.
  install -d -m 0700 -o "$image_uid" -g "$image_gid" "$data_dir/state"
  prepare_homes
}

# --- users' persistent homes (begin) --------------------------------------------------------
# Each user's home is a folder of the data volume's homes/, mounted at /home/jovyan in their
# server's container: notebooks, files, `pip install --user` and R's install.packages() all
# land there, so they survive a stop/start and, through the volume's snapshot, termination (a
# launch with DataVolumeSnapshotId restores them). The hub makes a new user's folder as the
# image's user; a volume restored from a snapshot of an older version may hold homes owned
# otherwise, which are given back to the image's user here (only the folders, not their files,
# which the user's server wrote as that user already).
prepare_homes() {
  local home
  install -d -m 0755 -o "$image_uid" -g "$image_gid" "$data_dir/homes"
  for home in "$data_dir"/homes/*/; do
    [ -d "$home" ] || continue
    chown "$image_uid:$image_gid" "$home"
    chmod 0700 "$home"
  done
}
# --- users' persistent homes (end) ----------------------------------------------------------

ensure_crypt_key() {
  # JUPYTERHUB_CRYPT_KEY encrypts auth state in the hub database, which lives on the data volume:
  # the key lives next to it (root only) so both survive a stop/start or a snapshot restore.
  if [ ! -s "$data_dir/crypt-key" ]; then
    (umask 077 && openssl rand -hex 32 >"$data_dir/crypt-key")
  fi
}

# --- the platform's settings and the owner (begin) ---------------------------------------------
# The tier's settings, one "NAME<tab>VALUE" line each; `setting oidc-client-id` reads one (empty
# when the platform does not publish it, e.g. LDAP's lookup account).
load_settings() {
  install -d -m 0700 "$(dirname "$settings_file")"
  aws ssm get-parameters-by-path --region "$region" --path "$settings_path" --recursive \
    --query 'Parameters[].[Name,Value]' --output text >"$settings_file"
  if [ -z "$(setting mode)" ]; then
    log "no settings under $settings_path: is the platform stack of this tier deployed?"
    return 1
  fi
}

setting() {
  awk -F '\t' -v name="/$1" 'substr($1, length($1) - length(name) + 1) == name { print $2 }' \
    "$settings_file"
}

# Who launched the product: the tag Service Catalog puts on its stack (the instance reads its
# tags from the metadata service), mapped to a user name by the platform's rule (a Python
# regular expression with a group `user`). Found once, kept on the data volume.
resolve_owner() {
  local principal
  if [ -n "$owner_given" ]; then
    echo "$owner_given"
  elif [ -s "$data_dir/owner" ]; then
    cat "$data_dir/owner"
  elif principal=$(imds "meta-data/tags/instance/$principal_tag") &&
    python3 -c 'import re, sys
m = re.search(sys.argv[1], sys.argv[2])
u = m and m.group("user")
sys.exit(not u or not re.fullmatch(r"[A-Za-z0-9._%+@-]{1,128}", u) or print(u))' \
      "$(setting principal-pattern)" "$principal" >"$data_dir/owner"; then
    cat "$data_dir/owner"
  else
    rm -f "$data_dir/owner"
    log "no owner from the launching identity ($principal_tag): launch it again with Owner set"
    return 1
  fi
}
# --- the platform's settings and the owner (end) -----------------------------------------------

env_line() {
  # Only variables with a value: an empty one would mean "set to nothing" to the hub's config.
  if [ -n "$2" ]; then
    printf '%s=%s\n' "$1" "$2"
  fi
}

write_environment() {
  local owner allowed_users
  load_settings
  owner=$(resolve_owner)
  allowed_users=$owner
  if [ -n "$collaborators" ]; then
    allowed_users="$owner,$collaborators"
  fi
  install -d -m 0700 "$(dirname "$env_file")"
  (
    umask 077
    {
      env_line LABCATALOG_TIER "$env_tier"
      # ECS sets the region for a Fargate hub; here the boto clients of the hub need it too.
      env_line AWS_DEFAULT_REGION "$region"
      env_line LABCATALOG_PUBLIC_URL "http://localhost:$hub_port"
      env_line LABCATALOG_STATE_DIR "$hub_state_dir"
      env_line LABCATALOG_SERVER_MODE docker
      env_line LABCATALOG_DOCKER_IMAGE "$hub_image"
      env_line LABCATALOG_DOCKER_NETWORK "$network"
      env_line LABCATALOG_DOCKER_HOMES "$hub_homes_dir"
      env_line LABCATALOG_DOCKER_HOMES_ON_HOST "$data_dir/homes"
      if command -v nvidia-smi >/dev/null 2>&1; then
        env_line LABCATALOG_DOCKER_GPUS all
      fi
      env_line LABCATALOG_ALLOWED_USERS "$allowed_users"
      env_line LABCATALOG_TIER_GROUP "$(setting tier-group)"
      env_line LABCATALOG_ADMIN_GROUP "$(setting admin-group)"
      env_line LABCATALOG_IDLE_TIMEOUT_MINUTES "$env_idle_timeout"
      env_line LABCATALOG_NOTEBOOK_BUCKET "$env_notebook_bucket"
      env_line LABCATALOG_AUTH "$(setting mode)"
      env_line LABCATALOG_OIDC_ISSUER "$(setting oidc-issuer-url)"
      env_line LABCATALOG_OIDC_CLIENT_ID "$(setting oidc-client-id)"
      env_line LABCATALOG_OIDC_USERNAME_CLAIM "$(setting oidc-username-claim)"
      env_line LABCATALOG_OIDC_GROUPS_CLAIM "$(setting oidc-groups-claim)"
      env_line LABCATALOG_LDAP_URL "$(setting ldap-url)"
      env_line LABCATALOG_LDAP_BIND_DN_TEMPLATE "$(setting ldap-bind-dn-template)"
      env_line LABCATALOG_LDAP_GROUP_SEARCH_BASE "$(setting ldap-group-search-base)"
      env_line LABCATALOG_LDAP_BIND_USER_DN "$(setting ldap-bind-user-dn)"
    } >"$env_file"
  )
}

install_service() {
  install -m 0700 "$0" "$installed"
  cat >"/etc/systemd/system/$unit" <<EOF
[Unit]
Description=labcatalog personal JupyterHub
Requires=docker.service
After=docker.service network-online.target
Wants=network-online.target
RequiresMountsFor=$data_dir

[Service]
ExecStart=$installed run
ExecStop=/usr/bin/docker stop $container
Restart=always
RestartSec=10
TimeoutStartSec=0

[Install]
WantedBy=multi-user.target
EOF
  systemctl daemon-reload
  systemctl enable --now "$unit"
}

wait_for_hub() {
  log "waiting for the hub on 127.0.0.1:$hub_port"
  for _ in $(seq 1 90); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$hub_port/hub/health"; then
      log "the hub is up"
      return 0
    fi
    sleep 10
  done
  log "the hub did not answer within 15 minutes; its last log lines:"
  journalctl -u "$unit" --no-pager -n 50 >&2 || true
  return 1
}

signal_cloudformation() {
  local status=$1
  log "signalling $signal_resource of stack $stack with exit code $status"
  # The wait condition may still be waiting for the data volume's attachment: retry.
  for _ in $(seq 1 30); do
    if /opt/aws/bin/cfn-signal --exit-code "$status" --stack "$stack" \
      --resource "$signal_resource" --region "$region"; then
      return 0
    fi
    sleep 10
  done
  log "could not signal CloudFormation; the launch will time out"
}

boot() {
  trap 'signal_cloudformation $?' EXIT
  install_packages
  mount_data_volume
  prepare_data_dirs
  ensure_crypt_key
  write_environment
  write_activity_environment
  install_service
  wait_for_hub
}

export_secret() {
  # Secrets are read at every start with the instance role and passed to the container by name:
  # never in the user data, the template or a file.
  local name=$1 secret=$2 value
  if [ -z "$secret" ]; then
    return 0
  fi
  value=$(aws secretsmanager get-secret-value --region "$region" --secret-id "$secret" \
    --query SecretString --output text)
  export "$name=$value"
}

export_crypt_key() {
  JUPYTERHUB_CRYPT_KEY=$(cat "$data_dir/crypt-key")
  export JUPYTERHUB_CRYPT_KEY
}

pull_image() {
  local registry
  registry=$(printf '%s' "$hub_image" | cut -d/ -f1)
  aws ecr get-login-password --region "$region" |
    docker login --username AWS --password-stdin "$registry"
  docker pull "$hub_image"
}

start_hub() {
  # The hub and the users' servers share a network of their own, where the hub container's
  # name resolves; the hub reaches the Docker daemon through its socket, as the socket's group.
  local subnet
  subnet=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$network" \
    2>/dev/null || true)
  if [ "$subnet" != "$network_subnet" ]; then
    # A network of an earlier version (no fixed addresses): made again, without its servers.
    docker ps -aq --filter "network=$network" --filter label=labcatalog.user |
      xargs -r docker rm -f >/dev/null
    docker rm -f "$container" >/dev/null 2>&1 || true
    docker network rm "$network" >/dev/null 2>&1 || true
    docker network create --subnet "$network_subnet" "$network" >/dev/null
  fi
  docker rm -f "$container" >/dev/null 2>&1 || true
  # Bound to the instance's loopback only: users reach it through SSM port forwarding. The hub
  # sees its state and the homes folder, not the crypt key file (it gets the key by name).
  exec docker run --rm --name "$container" --hostname "$container" --network "$network" \
    --ip "$hub_address" \
    --env-file "$env_file" \
    --env LABCATALOG_OIDC_CLIENT_SECRET --env LABCATALOG_LDAP_BIND_PASSWORD \
    --env JUPYTERHUB_CRYPT_KEY \
    --publish "127.0.0.1:$hub_port:8000" \
    --volume "$data_dir/state:$hub_state_dir" --volume "$data_dir/homes:$hub_homes_dir" \
    --volume "$docker_socket:/var/run/docker.sock" \
    --group-add "$(stat -c %g "$docker_socket")" \
    "$hub_image"
}

keep_servers_off_metadata() {
  # The instance role is the hub's: it assumes the tier's data role as the owner and serves that
  # session to the owner's servers (labcatalog_hub/credentials.py in the image). The servers'
  # containers share the hub's network, so the metadata service (and with it the instance
  # role) is closed to every address on it but the hub's. Docker's DOCKER-USER chain sees the
  # containers' forwarded traffic first; the rules are made again at every start (idempotent).
  first_rule -s "$network_subnet" -d "$metadata_address" -j DROP
  first_rule -s "$hub_address/32" -d "$metadata_address" -j RETURN # above the DROP
}

first_rule() {
  # A rule at the top of DOCKER-USER, unless it is there already.
  iptables -C DOCKER-USER "$@" 2>/dev/null || iptables -I DOCKER-USER "$@"
}

run_hub() {
  if apply_update; then
    run_installed reconfigure
  fi
  load_settings
  keep_servers_off_metadata
  export_secret LABCATALOG_OIDC_CLIENT_SECRET "$(setting oidc-client-secret-name)"
  export_secret LABCATALOG_LDAP_BIND_PASSWORD "$(setting ldap-bind-password-secret-name)"
  export_crypt_key
  pull_image
  start_hub
}

# --- day two: activity reporting and product updates ------------------------------------------
# The hub reports whether anyone uses it (labcatalog_hub/activity.py in the image) for the
# instance named here; the product's alarm stops the instance on that metric.
imds() {
  local token
  token=$(curl -fsS -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" \
    http://169.254.169.254/latest/api/token)
  curl -fsS -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/$1"
}

write_activity_environment() {
  env_line LABCATALOG_ACTIVITY_INSTANCE "$(imds meta-data/instance-id)" >>"$env_file"
}

# A product update that changes this script (any setting of the template: the image, the
# idle time, the users) makes CloudFormation stop the instance, replace its user data and start
# it again; the instance and its data volume stay. cloud-init runs user data on the first boot
# only, so at every start the hub's service compares the instance's current user data with its
# installed copy. When they differ it installs the new one, which writes the hub's environment
# from its own values and runs the hub with them (`reconfigure`).
apply_update() {
  local current
  current=$(mktemp)
  if ! imds user-data >"$current" || [ ! -s "$current" ] || cmp -s "$current" "$installed"; then
    rm -f "$current"
    return 1
  fi
  log "the product was updated: installing its new boot script"
  install -m 0700 "$current" "$installed"
  rm -f "$current"
}

run_installed() {
  exec "$installed" "$@"
}

reconfigure() {
  write_environment
  write_activity_environment
  run_hub
}
# --- end of day two ------------------------------------------------------------------------

main() {
  if [ "$#" -gt 0 ] && [ "$1" = run ]; then
    run_hub
  elif [ "$#" -gt 0 ] && [ "$1" = reconfigure ]; then
    reconfigure
  else
    boot
  fi
}

# Sourced: define the functions only.
if ! (return 0 2>/dev/null); then
  main "$@"
fi
