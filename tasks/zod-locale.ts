/**
 * English issue messages for the task schemas. The tasks use `zod/mini`, which is tree-shakable (a
 * Lambda bundle carries only the checks its task uses) and has no messages until a locale is set:
 * this sets English only, about 3 KB, the same messages classic `zod` gives. (`z.locales.en()`
 * would pull every locale into the bundle.) Imported for its effect by each module with a schema.
 */
import { config } from 'zod/mini';
import { en } from 'zod/locales';

config(en());
