// The plugin's own version, stamped into the bundle by scripts/build.mjs.
declare const __PLUGIN_VERSION__: string | undefined;

export const pluginVersion: string = typeof __PLUGIN_VERSION__ === 'string' ? __PLUGIN_VERSION__ : 'v0.0.0-dev';
