/* qsense: make a click anywhere on a drop-down's title open it.
 *
 * sphinx-togglebutton's click handler only recognises the title element itself, its button and
 * the button's icon. A click on anything else inside the title (maths in a solution's title, an
 * emphasised word) threw "button is not defined" and left the drop-down shut. This handler runs
 * first (capture phase): such a click toggles the drop-down through its own button instead. A link
 * inside the title (sphinx-exercise's "Solution to Exercise N") still works as a link. */
document.addEventListener(
  "click",
  function (event) {
    var target = event.target;
    if (!(target instanceof Element)) {
      return;
    }
    var title = target.closest(".toggle > .admonition-title, .dropdown > .admonition-title");
    if (!title || target === title || target.closest(".toggle-button")) {
      return;
    }
    event.stopPropagation();
    if (target.closest("a[href]")) {
      return; // the link does its job; no toggle, no error
    }
    var button = title.querySelector(".toggle-button");
    if (button) {
      button.click();
    }
  },
  true
);
