// Types of bundle-layout.mjs, which scripts/build.mjs (plain Node) imports as JavaScript.
export declare const LIBRARY_PACKAGES: string[];
export declare const LIBRARIES_LOADER: string;
export declare function joinBundle(plugin: string, libraries: string): string;
export declare function splitBundle(bundle: string): { plugin: string; libraries: string };
