-- The indexes of some tables with their key columns in order (NULL for an expression).
-- PostgreSQL 12-17.
SELECT i.indrelid AS relid,
       i.indexrelid::regclass::text AS index_name,
       ARRAY(
           SELECT a.attname::text
           FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
           LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
           ORDER BY k.position
       ) AS columns,
       i.indisvalid AS valid
FROM pg_index i
WHERE i.indrelid = ANY(%(relids)s::oid[])
ORDER BY 1, 2
