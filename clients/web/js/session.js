// The session bar (sign in with a pasted token, sign out) and the prompt shown to a signed-out
// person in place of a page.

import { session, signIn, signOut } from "./api.js";
import { h, pageTitle, showError } from "./dom.js";

/** Draw the session bar; `onChange()` runs after signing in or out. */
export function renderSession(onChange) {
  const bar = document.getElementById("session");
  bar.replaceChildren();
  const s = session();
  if (s) {
    bar.append(
      h("span", { class: "who", "data-testid": "account" }, `Signed in as ${s.account}`),
      h(
        "button",
        { class: "link", onclick: () => (signOut(), renderSession(onChange), onChange()) },
        "Sign out",
      ),
    );
    return;
  }
  const input = h("input", {
    name: "token",
    placeholder: "paste a token (make token ACCOUNT=alice)",
    autocomplete: "off",
    "aria-label": "token",
  });
  const form = h(
    "form",
    {
      class: "signin",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await signIn(input.value);
          renderSession(onChange);
          onChange();
        } catch (err) {
          showError(err);
        }
      },
    },
    input,
    h("button", { type: "submit" }, "Sign in"),
  );
  bar.append(form);
}

/** Show the sign-in prompt in `main` when nobody is signed in; returns whether it did. */
export function needSession(main) {
  if (session()) return false;
  pageTitle("Sign in");
  main.replaceChildren(
    h(
      "section",
      { class: "empty" },
      h("h1", {}, "Sign in"),
      h(
        "p",
        {},
        "Paste a local token in the box above. Get one with ",
        h("code", {}, "make token ACCOUNT=alice"),
        " (the make run banner shows the command).",
      ),
    ),
  );
  return true;
}
