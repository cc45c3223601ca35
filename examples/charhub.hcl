# r2plan configuration for CharHub's media bucket.
#
# CharHub stores its images in Cloudflare R2 under flat keys such as
#
#   characters/<id>/avatars/avatar_<ms>.webp
#   stories/<id>/cover.webp
#   curated/<id>.webp
#
# and one bucket serves both production and development. This layout gives every object
# an environment prefix: everything goes under "prod/" or "dev/", chosen by NODE_ENV, and
# the database rows that point at an object (by key or by public URL) are rewritten to
# the new key once its copy is verified. Objects already under "dev/" or "prod/" stay.
#
# It is configured only through environment variables, like the app itself:
#
#   R2_ENDPOINT_URL       https://<account id>.r2.cloudflarestorage.com
#   R2_BUCKET_NAME        the bucket
#   R2_ACCESS_KEY_ID      } R2 API token (secret: never printed)
#   R2_SECRET_ACCESS_KEY  }
#   R2_PUBLIC_URL         public base URL of the bucket (default https://media.charhub.app)
#   DATABASE_URL          postgres://… of the app's database (secret: never printed)
#   NODE_ENV              "production" selects prod/, anything else dev/ — REQUIRED
#   R2_GRACE_PERIOD       how long moved sources are kept (default 168h = 7 days)
#
# Any of them can be overridden on the command line: r2plan plan --var NODE_ENV=production.

locals {
  # NODE_ENV has no default on purpose: a wrong guess would move production media into
  # dev/ (and rewrite production rows to point there). An unset or empty NODE_ENV is an
  # error that names the variable.
  env = env("NODE_ENV") == "production" ? "prod" : "dev"
}

bucket {
  endpoint          = env("R2_ENDPOINT_URL")
  name              = env("R2_BUCKET_NAME")
  region            = "auto" # what R2 expects; also the default
  access_key_id     = env("R2_ACCESS_KEY_ID")
  secret_access_key = env("R2_SECRET_ACCESS_KEY")

  # Rows in "url" columns hold URLs under this base; r2plan rewrites only those, and
  # leaves URLs on any other host alone. A trailing "/" is ignored.
  public_url = env("R2_PUBLIC_URL", "https://media.charhub.app")

  # path_style defaults to true when an endpoint is set, which R2 accepts.
  # The most key ranges a plan lists at once (the bucket is cut into ranges as it is
  # listed, whatever its prefixes): how many run follows the pages' latency up to this
  # cap, so R2 gets many and a server on the same machine few; 1 is one sequential
  # listing. It changes no plan.
  list_concurrency = env("R2_LIST_CONCURRENCY", "16")

  # How a copy is kept from overwriting a target that holds other content. Every mode
  # first looks (a listing, or a HEAD) and refuses such a target; "auto" adds R2's
  # conditional-copy header on R2 (and If-None-Match on AWS), which also guards the
  # instant between the look and the copy. Elsewhere it sends no header ("head").
  no_overwrite = env("R2_NO_OVERWRITE", "auto")
}

database {
  url = env("DATABASE_URL")
}

layout {
  # Keys under these prefixes are already where they belong and are never moved. Both
  # are listed, so a development run never touches production's objects and vice versa.
  placed = ["dev/", "prod/"]

  # After a row is rewritten, its old object is kept this long before a later plan may
  # propose deleting it (a Go duration: "168h" is 7 days).
  grace_period = env("R2_GRACE_PERIOD", "168h")

  # Rules are tried in order and the first match wins; a key no rule matches stays.
  # prefix = "" matches every key; the target replaces the matched prefix, so
  # "characters/42/avatars/avatar_1700000000000.webp" becomes
  # "prod/characters/42/avatars/avatar_1700000000000.webp" when NODE_ENV=production.
  move "environment" {
    prefix = ""
    target = "${local.env}/"
  }
}

# "CharacterImage": one row per character image. "url" (NOT NULL) is the public URL
# and "key" (nullable) the object key; both are rewritten together.
reference "character_image" {
  table       = "CharacterImage"
  primary_key = "id"
  key_column  = "key"
  url_column  = "url"
}

# "Story": the cover is stored only as a public URL, and may be NULL.
reference "story_cover" {
  table       = "Story"
  primary_key = "id"
  url_column  = "coverImage"
}

# "CuratedImage": only rows already uploaded to R2 point into the bucket; the others
# hold URLs elsewhere or nothing. "where" is raw SQL, added to the scan as written
# (identifiers in double quotes, because Prisma keeps their case).
reference "curated_image" {
  table       = "CuratedImage"
  primary_key = "id"
  key_column  = "r2Key"
  url_column  = "r2Url"
  where       = "\"uploadedToR2\" = true"
}

# Unreferenced objects (orphans): a plan proposes deleting those in scope, outside
# protect, older than min_age and named by no row, at most max_delete per plan (default
# 1000). A plan with more is still written and shown, marked OVER THE DELETE BUDGET, and
# apply refuses it unless given --max-delete. Moved sources past the grace period are
# not orphans and do not count.
orphans {
  scope   = [""]              # the whole bucket …
  protect = ["dev/", "prod/"] # … except what is already placed, which is never touched
  min_age = "720h"            # and only objects older than 30 days
}
