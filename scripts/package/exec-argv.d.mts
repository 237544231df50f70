/** See exec-argv.mjs. */
export declare const EXEC_ARGV: string[];
