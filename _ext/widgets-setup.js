/* qsense: set-up for the Jupyter widgets HTML manager, served from the site itself.
 * Loaded after require.js and before embed-amd.js on pages with widgets (nb_ipywidgets_js in
 * _config.yml); _ext/qsense_site.py copies it to _static/vendor/. Not a file in _static/, which
 * Jupyter Book would load on every page. */
(function () {
  "use strict";
  // 1. The widget manager looks up its icon fonts under require.js's baseUrl, as
  //    <baseUrl>/@jupyter-widgets/html-manager/dist/: point baseUrl at the site's copy of the
  //    npm packages (by default it is the page's own folder, where they are not).
  var src = document.currentScript.src;
  var vendor = src.slice(0, src.lastIndexOf("/") + 1);
  window.require.config({ baseUrl: vendor + "npm/" });

  // 2. ipywidgets typesets widget descriptions with MathJax 2's MathJax.Hub.Queue, but the site
  //    runs MathJax 3, where the call throws "Cannot read properties of undefined (reading
  //    'Queue')" (upstream: https://github.com/jupyter-widgets/ipywidgets/issues/3829).
  //    Offer that one call, done with MathJax 3. Registered before the widget manager's own
  //    DOMContentLoaded handler, so it is in place before any widget renders.
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub) {
      return;
    }
    mj.Hub = {
      Queue: function (command) {
        var element = command && command[2];
        var ready = (mj.startup && mj.startup.promise) || Promise.resolve();
        ready.then(function () {
          return element && mj.typesetPromise ? mj.typesetPromise([element]) : null;
        }).catch(function (err) {
          console.warn("qsense: MathJax could not typeset a widget label", err);
        });
      }
    };
  });
})();
