#!/bin/bash
# The migration of modules/migration.bicep: runs in the deployment script's container (the Azure
# CLI image, signed in to az as the migrator identity; in the VNet when the environment is
# private). Environment (from the Bicep): RELEASE_URL, RELEASE_SHA256, POSTGRES_HOST,
# POSTGRES_DATABASE, MIGRATOR_ROLE, APP_ROLE, APP_OBJECT_ID; AZ_SCRIPTS_OUTPUT_PATH (the service).
set -euo pipefail

work=$(mktemp -d)
cd "$work"

# Role assignments made in the same deployment can take minutes to reach the data plane.
echo "== downloading $RELEASE_URL"
for attempt in $(seq 1 30); do
  if az storage blob download --auth-mode login --blob-url "$RELEASE_URL" --file package.zip \
    --only-show-errors --output none; then
    break
  fi
  [ "$attempt" -lt 30 ] || { echo "the release package could not be read" >&2; exit 1; }
  sleep 10
done

# The image has Python (az is Python), not necessarily unzip.
python3 -m zipfile -e package.zip app
actual=$(sha256sum app/healthsync | cut -d' ' -f1)
if [ "$actual" != "$RELEASE_SHA256" ]; then
  echo "the package's binary has SHA-256 $actual, the provision expected $RELEASE_SHA256" >&2
  exit 1
fi
chmod +x app/healthsync

urlencode() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
token=$(az account get-access-token --resource-type oss-rdbms --query accessToken --output tsv)
DATABASE_URL="postgres://$(urlencode "$MIGRATOR_ROLE"):$(urlencode "$token")@$POSTGRES_HOST:5432/$POSTGRES_DATABASE?sslmode=verify-full"
DATABASE_APP_PRINCIPAL="$APP_ROLE:$APP_OBJECT_ID"
export DATABASE_URL DATABASE_APP_PRINCIPAL

echo "== healthsync migrate as $MIGRATOR_ROLE on $POSTGRES_HOST/$POSTGRES_DATABASE"
./app/healthsync migrate

printf '{"migratedSha256": "%s"}' "$actual" > "$AZ_SCRIPTS_OUTPUT_PATH"
