-- The tables of a Prisma-managed app (CharHub) whose images r2plan moves, reduced to
-- the columns that matter: a key column, public-URL columns, and a boolean filter.
-- PostgreSQL DDL, as Prisma writes it, and the same text is valid SQLite: TIMESTAMP(3) is an
-- ordinary type name there, BOOLEAN stores 0/1, and false is a keyword since 3.23.
-- Keep semicolons out of comments: loaders may split the file on them.
-- Tests in providers/sqldb and the end-to-end scripts load it into both.

CREATE TABLE "CharacterImage" (
    "id" TEXT PRIMARY KEY,
    "characterId" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "key" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE "Story" (
    "id" TEXT PRIMARY KEY,
    "title" TEXT NOT NULL,
    "coverImage" TEXT
);

CREATE TABLE "CuratedImage" (
    "id" TEXT PRIMARY KEY,
    "r2Url" TEXT,
    "r2Key" TEXT,
    "uploadedToR2" BOOLEAN NOT NULL DEFAULT false
);
