/**
 * The shell scripts the credentials Jobs run, kept apart from the constructs so that tests can run
 * them with real `htpasswd` and `kubectl` binaries. Every script is POSIX `sh` and is tested under
 * BusyBox `sh` (what runs in the Jobs: the httpd image's, and the static BusyBox the kubectl
 * containers borrow, see `restricted-pod.ts`) and dash. They read their parameters from
 * environment variables that hold names only, never a secret.
 *
 * Everything read from the API is checked before use (generations: digits only, at most
 * `MAX_GENERATION_DIGITS`; Secret data: base64 of bounded length; types and annotations: exact
 * matches), and anything else stops the script with an error instead of being taken for "absent"
 * or "up to date". Manifests are built by `kubectl create … --dry-run=client -o yaml` and
 * `kubectl annotate --local`, never by pasting values into YAML.
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
 * The most digits a generation may have. 15 digits stay below both 2^53 (exact in JavaScript) and
 * 2^63 (the shells' `test` arithmetic), so every comparison the scripts make is exact; a longer
 * value is refused instead of making `[ -gt ]` fail, which inside `if` would read as "false".
 */
export const MAX_GENERATION_DIGITS = 15;

/** The largest generation: `MAX_GENERATION_DIGITS` nines. */
export const MAX_GENERATION = 10 ** MAX_GENERATION_DIGITS - 1;

/** The longest `.dockerconfigjson` (base64) the copy Job accepts; a pull Secret is a few hundred bytes. */
export const MAX_DOCKER_CONFIG_BASE64_LENGTH = 65536;

/** The type of every pull and push Secret. */
const DOCKER_CONFIG_TYPE = 'kubernetes.io/dockerconfigjson';

/**
 * Shell functions every script starts with: `fail` and the checks of values read from the API.
 * Values are shown in errors only through `shown`, which cuts them to 64 characters and replaces
 * anything but plain characters, so a hostile annotation cannot forge log lines. Secret data is
 * never shown.
 */
const CHECKS = `set -eu

# message: stops the script.
fail() {
  echo "error: $1" >&2
  exit 1
}

# value: at most 64 characters of it, anything but letters, digits and ":._/-" replaced by "?".
shown() {
  printf '%.64s' "$1" | tr -c 'A-Za-z0-9:._/-' '?'
}

# what, value: fails unless value is a generation: 0, or 1 to ${MAX_GENERATION_DIGITS} digits without a leading zero.
require_generation() {
  case "$2" in
    ''|*[!0-9]*|0?*) fail "$1 must be a generation (digits without a leading zero), got \\"$(shown "$2")\\"" ;;
  esac
  if [ \${#2} -gt ${MAX_GENERATION_DIGITS} ]; then
    fail "$1 must be a generation of at most ${MAX_GENERATION_DIGITS} digits, got \${#2} digits"
  fi
}

# what, value: fails unless value is a Kubernetes object name.
require_name() {
  case "$2" in
    ''|*[!a-z0-9.-]*|[!a-z0-9]*|*[!a-z0-9]) fail "$1 must be a Kubernetes object name, got \\"$(shown "$2")\\"" ;;
  esac
  if [ \${#2} -gt 253 ]; then
    fail "$1 must be at most 253 characters, got \${#2}"
  fi
}

# what, value: fails unless value is non-empty padded base64 of at most ${MAX_DOCKER_CONFIG_BASE64_LENGTH} characters.
require_base64() {
  case "$2" in
    ''|*[!A-Za-z0-9+/=]*|*=*[!=]*|*===*) fail "$1 is not base64" ;;
  esac
  if [ \${#2} -gt ${MAX_DOCKER_CONFIG_BASE64_LENGTH} ] || [ $((\${#2} % 4)) -ne 0 ]; then
    fail "$1 is not base64 of at most ${MAX_DOCKER_CONFIG_BASE64_LENGTH} characters"
  fi
}
`;

/**
 * Generates a push and a pull password and writes, into `$CREDENTIALS_DIR`:
 * `push.htpasswd` and `pull.htpasswd` (one user each, bcrypt at `$BCRYPT_COST`: the writer's and
 * the read-only path's files), `push.dockerconfigjson` and
 * `pull.dockerconfigjson` (byte for byte what `kubectl create secret docker-registry` writes).
 *
 * Environment: CREDENTIALS_DIR, REGISTRY_HOST, PUSH_USERNAME, PULL_USERNAME, BCRYPT_COST.
 */
export const GENERATE_CREDENTIALS_SCRIPT = `${CHECKS}
umask 077
cd "$CREDENTIALS_DIR"

# Hex keeps the password free of characters that JSON, YAML or htpasswd would need escaped.
random_password() {
  od -An -N${PASSWORD_RANDOM_BYTES} -tx1 /dev/urandom | tr -d ' \\n'
}

# password: fails unless it is the hex of ${PASSWORD_RANDOM_BYTES} bytes.
require_password() {
  case "$1" in
    *[!0-9a-f]*) fail "could not read ${PASSWORD_RANDOM_BYTES} random bytes from /dev/urandom" ;;
  esac
  if [ \${#1} -ne ${2 * PASSWORD_RANDOM_BYTES} ]; then
    fail "could not read ${PASSWORD_RANDOM_BYTES} random bytes from /dev/urandom"
  fi
}

# user, password: one htpasswd line. -i reads the password from stdin, not from the arguments.
htpasswd_line() {
  printf '%s\\n' "$2" | htpasswd -niB -C "$BCRYPT_COST" "$1"
}

# user, password: the .dockerconfigjson kubectl writes, keys in the same order. Every value is
# a checked name or hex, so none needs JSON escaping.
docker_config() {
  auth=$(printf '%s:%s' "$1" "$2" | base64 | tr -d '\\n')
  printf '{"auths":{"%s":{"username":"%s","password":"%s","auth":"%s"}}}' "$REGISTRY_HOST" "$1" "$2" "$auth"
}

require_name REGISTRY_HOST "$REGISTRY_HOST"
push_password=$(random_password)
pull_password=$(random_password)
require_password "$push_password"
require_password "$pull_password"
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
 * are replaced together; a higher generation, a Secret without the generation annotation, or one
 * whose annotation is not a generation, is an error.
 *
 * Environment: CREDENTIALS_DIR, NAMESPACE, GENERATION, HTPASSWD_SECRET, HTPASSWD_PUSH_KEY, HTPASSWD_PULL_KEY,
 * PUSH_SECRET, PULL_SECRET.
 */
export const WRITE_CREDENTIALS_SCRIPT = `${CHECKS}
umask 077
cd "$CREDENTIALS_DIR"

require_generation GENERATION "$GENERATION"
for file in push.htpasswd pull.htpasswd push.dockerconfigjson pull.dockerconfigjson; do
  [ -s "$file" ] || fail "$CREDENTIALS_DIR/$file is missing or empty: the generate container did not finish"
done

# secret: "" when absent, else its generation; fails on a Secret this generator did not write.
generation_of() {
  found=$(kubectl get secret "$1" --namespace "$NAMESPACE" --ignore-not-found -o 'jsonpath={.metadata.name}:{.metadata.annotations.${GENERATION_ANNOTATION}}')
  if [ -z "$found" ]; then
    return 0
  fi
  case "$found" in
    "$1:") fail "Secret $NAMESPACE/$1 exists without a numeric ${GENERATION_ANNOTATION} annotation, so it was not written by this generator; refusing to overwrite it (delete it or choose other Secret names)" ;;
    "$1:"*) ;;
    *) fail "kubectl get secret $1 answered for another object: \\"$(shown "$found")\\"" ;;
  esac
  generation=\${found#"$1:"}
  require_generation "the ${GENERATION_ANNOTATION} annotation of Secret $NAMESPACE/$1 (refusing to overwrite it)" "$generation"
  echo "$generation"
}

up_to_date=yes
for secret in "$HTPASSWD_SECRET" "$PUSH_SECRET" "$PULL_SECRET"; do
  generation=$(generation_of "$secret")
  if [ -z "$generation" ]; then
    echo "Secret $NAMESPACE/$secret: absent"
    up_to_date=no
  elif [ "$generation" -gt "$GENERATION" ]; then
    fail "Secret $NAMESPACE/$secret is at generation $generation, newer than this Job's $GENERATION: 'generation' must only increase"
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
  current=$(generation_of "$name")
  if [ -n "$current" ]; then
    kubectl replace -f "$name.annotated.yaml"
  else
    kubectl create -f "$name.annotated.yaml"
  fi
  rm -f "$name.yaml" "$name.annotated.yaml"
}

# The htpasswd Secret goes last: if the Job dies half way, a retry finds it at the old generation
# and writes all three again, so the Secrets never disagree once the Job has succeeded.
write_secret "$PUSH_SECRET" generic --type=${DOCKER_CONFIG_TYPE} --from-file=.dockerconfigjson=push.dockerconfigjson
write_secret "$PULL_SECRET" generic --type=${DOCKER_CONFIG_TYPE} --from-file=.dockerconfigjson=pull.dockerconfigjson
write_secret "$HTPASSWD_SECRET" generic --type=Opaque --from-file="$HTPASSWD_PUSH_KEY"=push.htpasswd --from-file="$HTPASSWD_PULL_KEY"=pull.htpasswd
echo "credentials of generation $GENERATION written"
`;

/**
 * Copies the `kubernetes.io/dockerconfigjson` Secret `$SOURCE_NAMESPACE/$SOURCE_SECRET` as
 * `$TARGET_SECRET` into every namespace of `$TARGETS` and adds it to the `imagePullSecrets` of the
 * ServiceAccounts listed there. Copies that already hold the same data, and ServiceAccounts that
 * already list the Secret, are left alone. A Secret of that name that is not a copy of the source
 * (another type, or no `COPIED_FROM_ANNOTATION` naming the source) is an error, not overwritten.
 *
 * Waits up to `$SOURCE_WAIT_SECONDS` for the source to exist and, when `$SOURCE_GENERATION` is
 * not empty, to be at least at that generation: after a rotation the generator may still be
 * writing it, and copying the old credentials would hand out passwords about to stop working.
 *
 * `$TARGETS` holds one line per namespace: the namespace, then its ServiceAccounts, separated by
 * spaces. The decoded credentials pass through `$WORK_DIR`, which should be memory-backed.
 *
 * Environment: SOURCE_NAMESPACE, SOURCE_SECRET, SOURCE_GENERATION, SOURCE_WAIT_SECONDS,
 * TARGET_SECRET, TARGETS, WORK_DIR.
 */
export const COPY_PULL_SECRET_SCRIPT = `${CHECKS}
umask 077

require_name TARGET_SECRET "$TARGET_SECRET"
if [ -n "$SOURCE_GENERATION" ]; then
  require_generation SOURCE_GENERATION "$SOURCE_GENERATION"
fi
require_generation SOURCE_WAIT_SECONDS "$SOURCE_WAIT_SECONDS"
source_label="Secret $SOURCE_NAMESPACE/$SOURCE_SECRET"
copied_from="$SOURCE_NAMESPACE/$SOURCE_SECRET"

# The data comes first in every answer: base64 holds no ":", so the first ":" ends it, and the
# annotation, which may hold anything, comes last.
waited=0
while :; do
  found=$(kubectl get secret "$SOURCE_SECRET" --namespace "$SOURCE_NAMESPACE" --ignore-not-found -o 'jsonpath={.data.\\.dockerconfigjson}:{.type}:{.metadata.annotations.${GENERATION_ANNOTATION}}')
  if [ -n "$found" ]; then
    data=\${found%%:*}
    rest=\${found#*:}
    case "$rest" in
      "${DOCKER_CONFIG_TYPE}:"*) generation=\${rest#"${DOCKER_CONFIG_TYPE}:"} ;;
      *) fail "$source_label is not of type ${DOCKER_CONFIG_TYPE}" ;;
    esac
    require_base64 "the .dockerconfigjson of $source_label" "$data"
    if [ -z "$SOURCE_GENERATION" ]; then
      break
    fi
    if [ -n "$generation" ]; then
      require_generation "the ${GENERATION_ANNOTATION} annotation of $source_label" "$generation"
      if [ "$generation" -ge "$SOURCE_GENERATION" ]; then
        break
      fi
    fi
  fi
  if [ "$waited" -ge "$SOURCE_WAIT_SECONDS" ]; then
    fail "$source_label with key .dockerconfigjson\${SOURCE_GENERATION:+ at generation $SOURCE_GENERATION or later} not found after $waited s"
  fi
  sleep 5
  waited=$((waited + 5))
done

printf '%s' "$data" | base64 -d > "$WORK_DIR/dockerconfigjson"

# namespace: creates or replaces the copy there.
copy_secret() {
  current=$(kubectl get secret "$TARGET_SECRET" --namespace "$1" --ignore-not-found -o 'jsonpath={.data.\\.dockerconfigjson}:{.type}:{.metadata.annotations.${COPIED_FROM_ANNOTATION}}')
  verb=create
  if [ -n "$current" ]; then
    if [ "\${current#*:}" != "${DOCKER_CONFIG_TYPE}:$copied_from" ]; then
      fail "Secret $1/$TARGET_SECRET exists but is not a ${DOCKER_CONFIG_TYPE} Secret annotated ${COPIED_FROM_ANNOTATION}=$copied_from, so this Job did not make it; refusing to overwrite it (delete it or choose another secretName)"
    fi
    if [ "\${current%%:*}" = "$data" ]; then
      echo "Secret $1/$TARGET_SECRET: up to date"
      return 0
    fi
    verb=replace
  fi
  kubectl create secret generic "$TARGET_SECRET" --namespace "$1" --type=${DOCKER_CONFIG_TYPE} --from-file=.dockerconfigjson="$WORK_DIR/dockerconfigjson" --dry-run=client -o yaml > "$WORK_DIR/copy.yaml"
  kubectl annotate --local -f "$WORK_DIR/copy.yaml" "${COPIED_FROM_ANNOTATION}=$copied_from" -o yaml > "$WORK_DIR/copy.annotated.yaml"
  kubectl "$verb" -f "$WORK_DIR/copy.annotated.yaml"
  rm -f "$WORK_DIR/copy.yaml" "$WORK_DIR/copy.annotated.yaml"
}

# namespace, service account: lists the copy in its imagePullSecrets, keeping the others. The
# patch holds only TARGET_SECRET, checked above to be an object name.
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
  require_name "a namespace of TARGETS" "$namespace"
  # Nothing in the loop may read the loop's stdin, the rest of TARGETS.
  copy_secret "$namespace" </dev/null
  for service_account in $service_accounts; do
    require_name "a ServiceAccount of TARGETS" "$service_account"
    attach_secret "$namespace" "$service_account" </dev/null
  done
done <<EOF
$TARGETS
EOF
rm -f "$WORK_DIR/dockerconfigjson"
echo "pull Secret copied"
`;
