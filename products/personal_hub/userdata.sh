#!/bin/bash
# Boot script of a labcatalog personal hub: EC2 user data, rendered by CloudFormation's Fn::Sub.
#
# CloudFormation fills in every placeholder (a dollar sign and a name in braces) before the
# instance sees this file; shell variables are written without braces, so the two never mix.
# Every value comes from a template parameter whose AllowedPattern excludes quotes, dollar signs
# and line breaks, so it cannot break out of its quotes.
#
# Run by cloud-init on first boot (no argument): install Docker, mount the data volume, write the
# hub's environment, install this script as the hub's systemd service, wait for the hub to answer
# and signal CloudFormation. systemd then runs `labcatalog-hub run` at every start of the
# instance: fetch the secrets, log in to ECR with the instance role, run the hub image.
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
  readonly auth='${AuthMode}'
  readonly oidc_secret_arn='${OidcClientSecretArn}'
  readonly ldap_secret_arn='${LdapBindPasswordSecretArn}'

  # The hub's environment: the contract in products/hub_image/environment.md.
  readonly env_tier='${Tier}'
  readonly env_allowed_users='${AllowedUsers}'
  readonly env_tier_group='${TierGroup}'
  readonly env_admin_group='${AdminGroup}'
  readonly env_idle_timeout='${IdleTimeoutMinutes}'
  readonly env_notebook_bucket='${NotebookBucket}'
  readonly env_oidc_issuer='${OidcIssuerUrl}'
  readonly env_oidc_client_id='${OidcClientId}'
  readonly env_oidc_username_claim='${OidcUsernameClaim}'
  readonly env_oidc_groups_claim='${OidcGroupsClaim}'
  readonly env_ldap_url='${LdapUrl}'
  readonly env_ldap_bind_dn_template='${LdapBindDnTemplate}'
  readonly env_ldap_group_search_base='${LdapGroupSearchBase}'
  readonly env_ldap_bind_user_dn='${LdapBindUserDn}'
}

readonly data_dir=/srv/labcatalog
readonly env_file=/etc/labcatalog/hub.env
readonly crypt_key_file=/srv/labcatalog/crypt-key
readonly installed=/usr/local/sbin/labcatalog-hub
readonly unit=labcatalog-hub.service
readonly container=labcatalog-hub

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
  install -d -m 0755 "$data_dir/state"
}

ensure_crypt_key() {
  # JUPYTERHUB_CRYPT_KEY encrypts auth state in the hub database, which lives on the data volume:
  # the key lives next to it (root only) so both survive a stop/start or a snapshot restore.
  if [ ! -s "$crypt_key_file" ]; then
    (umask 077 && openssl rand -hex 32 >"$crypt_key_file")
  fi
}

env_line() {
  # Only variables with a value: an empty one would mean "set to nothing" to the hub's config.
  if [ -n "$2" ]; then
    printf '%s=%s\n' "$1" "$2"
  fi
}

write_environment() {
  install -d -m 0700 "$(dirname "$env_file")"
  (
    umask 077
    {
      env_line LABCATALOG_TIER "$env_tier"
      # ECS sets the region for a Fargate hub; here the boto clients of the hub need it too.
      env_line AWS_DEFAULT_REGION "$region"
      env_line LABCATALOG_PUBLIC_URL "http://localhost:$hub_port"
      env_line LABCATALOG_STATE_DIR /srv/jupyterhub/state
      env_line LABCATALOG_SERVER_MODE in-hub
      env_line LABCATALOG_ALLOWED_USERS "$env_allowed_users"
      env_line LABCATALOG_TIER_GROUP "$env_tier_group"
      env_line LABCATALOG_ADMIN_GROUP "$env_admin_group"
      env_line LABCATALOG_IDLE_TIMEOUT_MINUTES "$env_idle_timeout"
      env_line LABCATALOG_NOTEBOOK_BUCKET "$env_notebook_bucket"
      env_line LABCATALOG_AUTH "$auth"
      if [ "$auth" = oidc ]; then
        env_line LABCATALOG_OIDC_ISSUER "$env_oidc_issuer"
        env_line LABCATALOG_OIDC_CLIENT_ID "$env_oidc_client_id"
        env_line LABCATALOG_OIDC_USERNAME_CLAIM "$env_oidc_username_claim"
        env_line LABCATALOG_OIDC_GROUPS_CLAIM "$env_oidc_groups_claim"
      else
        env_line LABCATALOG_LDAP_URL "$env_ldap_url"
        env_line LABCATALOG_LDAP_BIND_DN_TEMPLATE "$env_ldap_bind_dn_template"
        env_line LABCATALOG_LDAP_GROUP_SEARCH_BASE "$env_ldap_group_search_base"
        env_line LABCATALOG_LDAP_BIND_USER_DN "$env_ldap_bind_user_dn"
      fi
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
  ensure_crypt_key
  write_environment
  install_service
  wait_for_hub
}

export_secret() {
  # Secrets are read at every start with the instance role and passed to the container by name:
  # never in the user data, the template or a file.
  local name=$1 arn=$2 value
  if [ -z "$arn" ]; then
    return 0
  fi
  value=$(aws secretsmanager get-secret-value --region "$region" --secret-id "$arn" \
    --query SecretString --output text)
  export "$name=$value"
}

run_hub() {
  local registry
  export_secret LABCATALOG_OIDC_CLIENT_SECRET "$oidc_secret_arn"
  export_secret LABCATALOG_LDAP_BIND_PASSWORD "$ldap_secret_arn"
  JUPYTERHUB_CRYPT_KEY=$(cat "$crypt_key_file")
  export JUPYTERHUB_CRYPT_KEY
  registry=$(printf '%s' "$hub_image" | cut -d/ -f1)
  aws ecr get-login-password --region "$region" |
    docker login --username AWS --password-stdin "$registry"
  docker pull "$hub_image"
  docker rm -f "$container" >/dev/null 2>&1 || true
  # Bound to the instance's loopback only: users reach it through SSM port forwarding.
  set -- --rm --name "$container" --env-file "$env_file" \
    --env LABCATALOG_OIDC_CLIENT_SECRET --env LABCATALOG_LDAP_BIND_PASSWORD \
    --env JUPYTERHUB_CRYPT_KEY \
    --publish "127.0.0.1:$hub_port:8000" --volume "$data_dir:/srv/jupyterhub"
  if command -v nvidia-smi >/dev/null 2>&1; then
    set -- "$@" --gpus all
  fi
  exec docker run "$@" "$hub_image"
}

if [ "$#" -gt 0 ] && [ "$1" = run ]; then
  run_hub
else
  boot
fi
