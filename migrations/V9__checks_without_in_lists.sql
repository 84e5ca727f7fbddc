-- plugin-metastore schema, version 9: two CHECKs without IN lists.
--
-- V1 checks `plugins.execution_mode` and `remote_resources.provider` with
-- `column IN ('a', 'b', ...)`. SQLite checks a list of more than two
-- values by building a temporary index of it, each time the CHECK runs:
-- on every row written. Saving 100,000 plugins spent a fifth of its time
-- there. The same test as a chain of `=` ... `OR` builds nothing (V4's
-- history table was written that way from the start).
--
-- Only the CHECKs' text changes: every row, table, column, index, view
-- and trigger stays as it is, and each CHECK accepts exactly the values
-- it accepted before, so every row already passes. SQLite has no ALTER
-- for a CHECK; rebuilding both tables would copy every row and restate
-- every index, view and trigger on them. So, as SQLite documents for
-- changing a constraint that does not change what is stored
-- (https://www.sqlite.org/lang_altertable.html, "Making Other Kinds Of
-- Table Schema Changes"), the tables' stored CREATE statements are edited
-- in place, inside this migration's transaction: all or nothing. A table
-- whose text is not V1's (rebuilt by hand) is left as it is; it still
-- works, only slower.

PRAGMA writable_schema = ON;

UPDATE sqlite_master
SET sql = replace(sql, 'execution_mode IN (
                                   ''in_process'', ''subprocess'', ''docker'', ''conda_env'', ''external_service'',
                                   ''cloud_gpu'', ''cloud_api'', ''remote_server'', ''hybrid'')',
                  'execution_mode = ''in_process'' OR execution_mode = ''subprocess''
                                   OR execution_mode = ''docker'' OR execution_mode = ''conda_env''
                                   OR execution_mode = ''external_service'' OR execution_mode = ''cloud_gpu''
                                   OR execution_mode = ''cloud_api'' OR execution_mode = ''remote_server''
                                   OR execution_mode = ''hybrid''')
WHERE type = 'table' AND name = 'plugins';

UPDATE sqlite_master
SET sql = replace(sql, 'provider IN (
                                ''aws'', ''gcp'', ''azure'', ''lambda_labs'', ''runpod'', ''vast_ai'',
                                ''paperspace'', ''coreweave'', ''custom'')',
                  'provider = ''aws'' OR provider = ''gcp'' OR provider = ''azure''
                                OR provider = ''lambda_labs'' OR provider = ''runpod''
                                OR provider = ''vast_ai'' OR provider = ''paperspace''
                                OR provider = ''coreweave'' OR provider = ''custom''')
WHERE type = 'table' AND name = 'remote_resources';

-- This connection reads its schema again; a DDL statement changes the
-- schema cookie, so every other connection does too.
PRAGMA writable_schema = RESET;
CREATE TABLE plugin_metastore_v9_schema_changed (x);
DROP TABLE plugin_metastore_v9_schema_changed;
