"""The course catalogue and the phone-first player: lessons, quizzes, progress, grades. It knows
nothing of LTI: a source (an LMS launch, a citizen's sign-in, a content package) opens a
``player.session.PlayerSession`` with a learner, a tenant, a target and a score reporter."""
