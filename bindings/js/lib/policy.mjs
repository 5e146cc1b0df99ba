// One instance with no grants, for the component's pure functions (exit codes, error lines,
// the CLI grammar, upstream's path rules, default limits): made once, when the package loads.

import { load } from './load.mjs';

export const policy = await load();
