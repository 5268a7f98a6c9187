/** The sign-in form: a name, in development; otherwise it says how to come in with a token. */
import { h } from './dom.js';
import { devSignIn, type Session } from './session.js';

export function signInView(onSignedIn: (session: Session) => void): HTMLElement {
  const input = h('input', { id: 'sign-in-name', name: 'name', required: true, maxlength: 200, autocomplete: 'username', autofocus: true });
  const problem = h('p', { class: 'problem', role: 'alert' });
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'sign-in',
      'aria-labelledby': 'sign-in-title',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const name = input.value.trim();
        if (!name) return;
        button.disabled = true;
        problem.textContent = '';
        devSignIn(name).then(onSignedIn, (err: unknown) => {
          problem.textContent = err instanceof Error ? err.message : String(err);
          button.disabled = false;
        });
      },
    },
    h('h1', { id: 'sign-in-title' }, 'Parley'),
    h('label', { for: 'sign-in-name' }, 'Your name'),
    input,
    button,
    problem,
    h('p', { class: 'hint' }, 'Development sign-in: any name works while the node runs with its own development secret.'),
  );
  return form;
}
