# r2plan configuration for a different app, to show a layout built from regular
# expressions rather than a single prefix.
#
# The bucket holds flat keys
#
#   avatars/<id>.webp   ->  characters/<id>/avatar.webp
#   covers/<id>.jpg     ->  stories/<id>/cover.jpg
#
# and the "users" table stores each avatar's object key in "avatar_key".
#
# It runs against plain AWS S3 or any S3-compatible store: S3_ENDPOINT may be left unset
# (AWS S3), or point at MinIO, R2, versitygw….

bucket {
  endpoint          = env("S3_ENDPOINT", "")
  name              = env("S3_BUCKET")
  region            = env("AWS_REGION", "us-east-1")
  # Both or neither: left unset, the SDK's default credential chain is used.
  access_key_id     = env("AWS_ACCESS_KEY_ID", "")
  secret_access_key = env("AWS_SECRET_ACCESS_KEY", "")
  # No public_url: no reference below has a url_column.
}

database {
  url = env("DATABASE_URL") # postgres://… or sqlite:PATH
}

layout {
  # Everything already under these prefixes is in its final place.
  placed = ["characters/", "stories/"]
  # grace_period is left out: it defaults to 168h.

  # regex is a Go regular expression (RE2) and must match the whole key; ^ and $ are
  # allowed but not needed. The target is expanded with Go's regexp.Expand:
  #
  #   $1, $2 …        numbered groups
  #   $name           a named group; the name runs as far as letters, digits and "_" go,
  #                   so "$id.jpg" is fine but "$id_x" means the group "id_x"
  #   ${name}         a named group, delimited — but HCL reads "${" as the start of an
  #                   interpolation, so in an HCL string it is written $${name}
  #   $$              a literal "$"
  #
  # A target that refers to a group the regex does not have is an error.
  move "avatars" {
    regex  = "^avatars/(?P<id>[^/]+)\\.webp$" # "\\." in HCL is the regex \. (a dot)
    target = "characters/$${id}/avatar.webp"
  }

  move "covers" {
    regex  = "covers/([^/]+)\\.jpg"
    target = "stories/$1/cover.jpg"
  }
}

reference "user_avatar" {
  table       = "users"
  primary_key = "id"         # an integer primary key is fine
  key_column  = "avatar_key" # holds "avatars/17.webp", rewritten to "characters/17/avatar.webp"
}
