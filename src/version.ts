// The package's own name and version, read from package.json wherever the code runs from.
import { OWN_PACKAGE } from './util/package-root.js';

export const PACKAGE: { readonly name: string; readonly version: string } = {
  name: OWN_PACKAGE.name,
  version: OWN_PACKAGE.version,
};
