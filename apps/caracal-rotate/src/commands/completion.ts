import { MATERIALS } from '@caracal-rotation/contracts';
import { ROTATION_STATES } from '@caracal-rotation/lifecycle';
import { EXIT, UsageError } from '../environment.js';
import type { Command } from './command.js';

const SHELLS = ['bash', 'zsh'] as const;
const GLOBAL_FLAGS = ['--json', '--help'];

/** What the shell needs to know of each command: its flags, and what its first argument is. */
interface Spec {
  name: string;
  summary: string;
  flags: string[];
  /** Words offered for the first positional argument. */
  first: readonly string[];
}

const firstArgument = (name: string): readonly string[] => (name === 'request' || name === 'plan' ? MATERIALS : name === 'completion' ? SHELLS : []);

function specs(commands: readonly Command[]): Spec[] {
  return commands.map((c) => ({ name: c.name, summary: c.summary, flags: [...Object.keys(c.options).map((o) => `--${o}`), ...GLOBAL_FLAGS], first: firstArgument(c.name) }));
}

/** Values a flag takes, where they are a closed set. */
const FLAG_VALUES: Record<string, readonly string[]> = { '--state': ROTATION_STATES, '--material': MATERIALS };

const words = (list: readonly string[]) => list.join(' ');
const quoted = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

function bash(all: Spec[]): string {
  return `# caracal-rotate completion for bash. Load it with:
#   eval "$(caracal-rotate completion bash)"      (or save it under /etc/bash_completion.d/)
_caracal_rotate() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="\${COMP_WORDS[1]}" flags="" first=""
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( $(compgen -W ${quoted(words([...all.map((s) => s.name), '--help', '--version']))} -- "$cur") )
    return
  fi
  case "$prev" in
${Object.entries(FLAG_VALUES).map(([flag, values]) => `    ${flag}) COMPREPLY=( $(compgen -W ${quoted(words(values))} -- "$cur") ); return ;;`).join('\n')}
  esac
  case "$cmd" in
${all.map((s) => `    ${s.name}) flags=${quoted(words(s.flags))}; first=${quoted(words(s.first))} ;;`).join('\n')}
  esac
  if [[ "$cur" == -* || -z "$first" || $COMP_CWORD -gt 2 ]]; then
    COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
  else
    COMPREPLY=( $(compgen -W "$first" -- "$cur") )
  fi
}
complete -F _caracal_rotate caracal-rotate
`;
}

function zsh(all: Spec[]): string {
  return `#compdef caracal-rotate
# caracal-rotate completion for zsh. Load it with:
#   source <(caracal-rotate completion zsh)       (or save it as _caracal-rotate in a directory of $fpath)
_caracal_rotate() {
  local -a commands flags first
  commands=(
${all.map((s) => `    ${quoted(`${s.name}:${s.summary}`)}`).join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case $words[CURRENT-1] in
${Object.entries(FLAG_VALUES).map(([flag, values]) => `    ${flag}) compadd -- ${words(values)}; return ;;`).join('\n')}
  esac
  case $words[2] in
${all.map((s) => `    ${s.name}) flags=(${words(s.flags)}); first=(${words(s.first)}) ;;`).join('\n')}
  esac
  if [[ $words[CURRENT] == -* || $#first -eq 0 || CURRENT -gt 3 ]]; then
    compadd -- $flags
  else
    compadd -- $first
  fi
}
if [[ $zsh_eval_context[-1] == loadautoload ]]; then _caracal_rotate "$@"; else compdef _caracal_rotate caracal-rotate; fi
`;
}

/** `completion bash|zsh`: prints a script that completes commands, flags, materials and states. */
export function completionCommand(commands: () => readonly Command[]): Command {
  return {
    name: 'completion',
    summary: 'print a shell completion script (bash or zsh) for commands, flags, materials and states',
    usage: 'completion <bash|zsh>',
    details: `Prints the script on stdout; nothing is installed.

Examples:
  eval "$(caracal-rotate completion bash)"                 # this bash session
  caracal-rotate completion bash > /etc/bash_completion.d/caracal-rotate
  source <(caracal-rotate completion zsh)                  # this zsh session
  caracal-rotate completion zsh > "\${fpath[1]}/_caracal-rotate"`,
    options: {},
    positionals: ['SHELL'],
    required: 1,
    async run({ positionals }) {
      const shell = positionals[0]!;
      if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`completion knows ${SHELLS.join(' and ')}, not ${JSON.stringify(shell)}`, EXIT.usage);
      const all = specs(commands());
      process.stdout.write(shell === 'bash' ? bash(all) : zsh(all));
      return EXIT.ok;
    },
  };
}
