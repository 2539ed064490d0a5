/**
 * Command-line flags for the project's own scripts (bench, conformance, the
 * fuse-native comparison): `--flag value` and `--flag=value`, read one at a
 * time. Each script keeps its own flag table; this only walks the words.
 */

/** One flag as written; `value()` takes its argument (the `=` part or the next word) and throws if there is none. */
export interface Flag {
  name: string;
  value(): string;
}

/** Thrown for a flag that needs a value and has none; scripts print it with their usage. */
export class FlagError extends Error {
  override name = 'FlagError';
}

/** The flags of `argv`, in order. */
export function* flags(argv: readonly string[]): Generator<Flag> {
  for (let i = 0; i < argv.length; i++) {
    let name = argv[i] ?? '';
    let inline: string | undefined;
    const eq = name.indexOf('=');
    if (name.startsWith('--') && eq > 0) {
      inline = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const flagName = name;
    yield {
      name: flagName,
      value: () => {
        if (inline !== undefined) return inline;
        const v = argv[++i];
        if (v === undefined) throw new FlagError(`${flagName} needs a value`);
        return v;
      },
    };
  }
}
