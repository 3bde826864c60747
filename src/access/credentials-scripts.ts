/**
 * The shell scripts the credentials Jobs run, kept apart from the constructs so that tests can run
 * them with real `htpasswd` and `kubectl` binaries. Every script is POSIX `sh` (BusyBox ash in the
 * httpd image, dash in the kubectl image) and reads its parameters from environment variables
 * that hold names only, never a secret.
 *
 * Passwords exist only in files of a memory-backed volume and in shell variables: they are never
 * echoed, never passed as a command-line argument (`printf` is a shell builtin, `htpasswd -i`
 * reads stdin) and never put in an environment variable.
 */

/**
 * The annotation on every Secret the generator writes, holding the credentials' generation. The
 * generator only overwrites Secrets that carry it, so it never clobbers a Secret someone else made.
 */
export const GENERATION_ANNOTATION = 'cdk8s-trusted-registry/credentials-generation';

/** The annotation on every pull Secret copy, naming the Secret it was copied from. */
export const COPIED_FROM_ANNOTATION = 'cdk8s-trusted-registry/copied-from';

/** Random bytes per generated password (printed as twice as many hex characters). */
export const PASSWORD_RANDOM_BYTES = 24;

/**
 * Generates a push and a pull password and writes, into `$CREDENTIALS_DIR`:
 * `push.htpasswd` and `pull.htpasswd` (one user each, bcrypt at `$BCRYPT_COST`: the writer's and
 * the read-only path's files), `push.dockerconfigjson` and
 * `pull.dockerconfigjson` (byte for byte what `kubectl create secret docker-registry` writes).
 *
 * Environment: CREDENTIALS_DIR, REGISTRY_HOST, PUSH_USERNAME, PULL_USERNAME, BCRYPT_COST.
 */
export const GENERATE_CREDENTIALS_SCRIPT = `set -eu
umask 077
cd "$CREDENTIALS_DIR"

# Hex keeps the password free of characters that JSON, YAML or htpasswd would need escaped.
random_password() {
  od -An -N${PASSWORD_RANDOM_BYTES} -tx1 /dev/urandom | tr -d ' \\n'
}

# user, password: one htpasswd line. -i reads the password from stdin, not from the arguments.
htpasswd_line() {
  printf '%s\\n' "$2" | htpasswd -niB -C "$BCRYPT_COST" "$1"
}

# user, password: the .dockerconfigjson kubectl writes, keys in the same order.
docker_config() {
  auth=$(printf '%s:%s' "$1" "$2" | base64 | tr -d '\\n')
  printf '{"auths":{"%s":{"username":"%s","password":"%s","auth":"%s"}}}' "$REGISTRY_HOST" "$1" "$2" "$auth"
}

push_password=$(random_password)
pull_password=$(random_password)
if [ \${#push_password} -ne ${2 * PASSWORD_RANDOM_BYTES} ] || [ \${#pull_password} -ne ${2 * PASSWORD_RANDOM_BYTES} ]; then
  echo "could not read ${PASSWORD_RANDOM_BYTES} random bytes from /dev/urandom" >&2
  exit 1
fi
push_line=$(htpasswd_line "$PUSH_USERNAME" "$push_password")
pull_line=$(htpasswd_line "$PULL_USERNAME" "$pull_password")
printf '%s\\n' "$push_line" > push.htpasswd
printf '%s\\n' "$pull_line" > pull.htpasswd
docker_config "$PUSH_USERNAME" "$push_password" > push.dockerconfigjson
docker_config "$PULL_USERNAME" "$pull_password" > pull.dockerconfigjson
echo "generated credentials for users $PUSH_USERNAME and $PULL_USERNAME"
`;

/**
 * Writes the files of `GENERATE_CREDENTIALS_SCRIPT` as three Secrets in `$NAMESPACE`, unless all
 * three already exist at `$GENERATION`; then it changes nothing. Secrets of a lower generation
 * are replaced together; a higher generation, or a Secret without the generation annotation, is
 * an error.
 *
 * Environment: CREDENTIALS_DIR, NAMESPACE, GENERATION, HTPASSWD_SECRET, HTPASSWD_PUSH_KEY, HTPASSWD_PULL_KEY,
 * PUSH_SECRET, PULL_SECRET.
 */
export const WRITE_CREDENTIALS_SCRIPT = `set -eu
umask 077
cd "$CREDENTIALS_DIR"

# secret: "" when absent, else its generation; fails on a Secret this generator did not write.
generation_of() {
  found=$(kubectl get secret "$1" --namespace "$NAMESPACE" --ignore-not-found -o 'jsonpath={.metadata.name}:{.metadata.annotations.${GENERATION_ANNOTATION}}') || return 1
  if [ -z "$found" ]; then
    return 0
  fi
  generation=\${found#"$1:"}
  case "$generation" in
    ''|*[!0-9]*)
      echo "Secret $NAMESPACE/$1 exists without a numeric ${GENERATION_ANNOTATION} annotation, so it was not written by this generator; refusing to overwrite it (delete it or choose other Secret names)" >&2
      return 1 ;;
  esac
  echo "$generation"
}

up_to_date=yes
for secret in "$HTPASSWD_SECRET" "$PUSH_SECRET" "$PULL_SECRET"; do
  generation=$(generation_of "$secret")
  if [ -z "$generation" ]; then
    echo "Secret $NAMESPACE/$secret: absent"
    up_to_date=no
  elif [ "$generation" -gt "$GENERATION" ]; then
    echo "Secret $NAMESPACE/$secret is at generation $generation, newer than this Job's $GENERATION: 'generation' must only increase" >&2
    exit 1
  elif [ "$generation" -lt "$GENERATION" ]; then
    echo "Secret $NAMESPACE/$secret: generation $generation, rotating to $GENERATION"
    up_to_date=no
  fi
done
if [ "$up_to_date" = yes ]; then
  echo "credentials of generation $GENERATION exist; nothing to do"
  exit 0
fi

# secret, then the arguments of "kubectl create secret" that give its type and data.
write_secret() {
  name=$1
  shift
  kubectl create secret "$@" "$name" --namespace "$NAMESPACE" --dry-run=client -o yaml > "$name.yaml"
  kubectl annotate --local -f "$name.yaml" "${GENERATION_ANNOTATION}=$GENERATION" -o yaml > "$name.annotated.yaml"
  if [ -n "$(generation_of "$name")" ]; then
    kubectl replace -f "$name.annotated.yaml"
  else
    kubectl create -f "$name.annotated.yaml"
  fi
  rm -f "$name.yaml" "$name.annotated.yaml"
}

# The htpasswd Secret goes last: if the Job dies half way, a retry finds it at the old generation
# and writes all three again, so the Secrets never disagree once the Job has succeeded.
write_secret "$PUSH_SECRET" generic --type=kubernetes.io/dockerconfigjson --from-file=.dockerconfigjson=push.dockerconfigjson
write_secret "$PULL_SECRET" generic --type=kubernetes.io/dockerconfigjson --from-file=.dockerconfigjson=pull.dockerconfigjson
write_secret "$HTPASSWD_SECRET" generic --from-file="$HTPASSWD_PUSH_KEY"=push.htpasswd --from-file="$HTPASSWD_PULL_KEY"=pull.htpasswd
echo "credentials of generation $GENERATION written"
`;

/**
 * Copies the `kubernetes.io/dockerconfigjson` Secret `$SOURCE_NAMESPACE/$SOURCE_SECRET` as
 * `$TARGET_SECRET` into every namespace of `$TARGETS` and adds it to the `imagePullSecrets` of the
 * ServiceAccounts listed there. Copies that already hold the same data, and ServiceAccounts that
 * already list the Secret, are left alone.
 *
 * Waits up to `$SOURCE_WAIT_SECONDS` for the source to exist and, when `$SOURCE_GENERATION` is
 * not empty, to be at least at that generation: after a rotation the generator may still be
 * writing it, and copying the old credentials would hand out passwords about to stop working.
 *
 * `$TARGETS` holds one line per namespace: the namespace, then its ServiceAccounts, separated by
 * spaces.
 *
 * Environment: SOURCE_NAMESPACE, SOURCE_SECRET, SOURCE_GENERATION, SOURCE_WAIT_SECONDS,
 * TARGET_SECRET, TARGETS.
 */
export const COPY_PULL_SECRET_SCRIPT = `set -eu

waited=0
while :; do
  found=$(kubectl get secret "$SOURCE_SECRET" --namespace "$SOURCE_NAMESPACE" --ignore-not-found -o 'jsonpath={.metadata.annotations.${GENERATION_ANNOTATION}}:{.data.\\.dockerconfigjson}')
  generation=\${found%%:*}
  data=\${found#*:}
  if [ -n "$data" ] && { [ -z "$SOURCE_GENERATION" ] || [ "\${generation:-0}" -ge "$SOURCE_GENERATION" ]; }; then
    break
  fi
  if [ "$waited" -ge "$SOURCE_WAIT_SECONDS" ]; then
    echo "Secret $SOURCE_NAMESPACE/$SOURCE_SECRET with key .dockerconfigjson\${SOURCE_GENERATION:+ at generation $SOURCE_GENERATION or later} not found after $waited s" >&2
    exit 1
  fi
  sleep 5
  waited=$((waited + 5))
done

copy_secret() {
  current=$(kubectl get secret "$TARGET_SECRET" --namespace "$1" --ignore-not-found -o 'jsonpath={.metadata.name}:{.data.\\.dockerconfigjson}')
  if [ "$current" = "$TARGET_SECRET:$data" ]; then
    echo "Secret $1/$TARGET_SECRET: up to date"
    return 0
  fi
  verb=create
  if [ -n "$current" ]; then
    verb=replace
  fi
  printf 'apiVersion: v1\\nkind: Secret\\nmetadata:\\n  name: %s\\n  namespace: %s\\n  annotations:\\n    ${COPIED_FROM_ANNOTATION}: %s/%s\\ntype: kubernetes.io/dockerconfigjson\\ndata:\\n  .dockerconfigjson: %s\\n' \\
    "$TARGET_SECRET" "$1" "$SOURCE_NAMESPACE" "$SOURCE_SECRET" "$data" | kubectl "$verb" -f -
}

# namespace, service account: lists the copy in its imagePullSecrets, keeping the others.
attach_secret() {
  names=$(kubectl get serviceaccount "$2" --namespace "$1" -o 'jsonpath={.imagePullSecrets[*].name}')
  case " $names " in
    *" $TARGET_SECRET "*)
      echo "ServiceAccount $1/$2: already lists $TARGET_SECRET"
      return 0 ;;
  esac
  if [ -z "$names" ]; then
    patch='[{"op":"add","path":"/imagePullSecrets","value":[{"name":"'"$TARGET_SECRET"'"}]}]'
  else
    patch='[{"op":"add","path":"/imagePullSecrets/-","value":{"name":"'"$TARGET_SECRET"'"}}]'
  fi
  kubectl patch serviceaccount "$2" --namespace "$1" --type=json -p "$patch"
}

while read -r namespace service_accounts; do
  if [ -z "$namespace" ]; then
    continue
  fi
  copy_secret "$namespace"
  for service_account in $service_accounts; do
    attach_secret "$namespace" "$service_account"
  done
done <<EOF
$TARGETS
EOF
echo "pull Secret copied"
`;
