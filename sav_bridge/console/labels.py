"""The console's words in English and French; the browser's `Accept-Language` picks (English otherwise)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

LABELS: dict[str, dict[str, Any]] = {
    "en": {
        "title": "sav-bridge: posting policy", "signed_in_as": "Signed in as", "sign_out": "Sign out",
        "nav": {"overview": "Policy", "new": "New version", "audit": "Audit", "approvals": "Approvals",
                "log": "Administration log"},
        "active_policy": "Policy in force", "rule": "Rule", "what": "What it looks for", "where": "Where",
        "action": "What happens", "versions": "Versions", "status": "Status", "author": "Author",
        "comment": "Comment", "created": "Created", "activated_by": "Activated by",
        "approvals": "Replies waiting for approval", "ticket": "Ticket", "agent": "Agent", "rules": "Rules",
        "reply": "Reply", "overdue": "overdue", "no_approvals": "No reply is waiting.",
        "api": "The same, for scripts:",
        "actions": {"block": "never posted", "require_dm": "only as a DM", "hold": "held for approval",
                    "redact": "masked", "warn": "posted, with a warning", "allow": "never a finding"},
        "outcomes": {"block": "blocked", "require_dm": "only as a DM", "hold": "held for approval",
                     "redact": "masked", "warn": "posted, with a warning", "allow": "posted as written"},
        "statuses": {"active": "active", "draft": "draft", "retired": "retired",
                     "pending": "waiting", "approved": "approved", "rejected": "rejected"},
        "version": "Version", "view": "Open", "edit_copy": "Edit a copy", "yaml": "Policy text (YAML)",
        "diff_against": "Changes from", "no_changes": "No difference.", "activate": "Activate this version",
        "rollback": "Roll back to this version", "cannot_activate": "You cannot activate this version",
        "is_active": "This version is in force.", "editor": "New policy version",
        "editor_hint": "Errors show as you type; the version is saved as a draft, an approver activates it.",
        "save": "Save as draft", "problems": "Errors", "line": "line", "no_problems": "No error.",
        "checking": "Checking…",
        "test": "Test this version", "test_hint": "Replays replies under this version and under the one in "
        "force; the decisions that would change come first.",
        "paste": "Paste replies (one per line)", "last_days": "Replies of the last days (from the audit)",
        "days": "days", "audience": "Audience", "audiences": {"public": "public reply", "dm": "direct message"},
        "run_test": "Run the test", "tested": "replies tested", "changed": "would change",
        "now": "In force", "candidate": "This version", "progress": "Progress",
        "audit": "Posting decisions", "since": "From", "until": "To", "filter": "Filter", "csv": "Export CSV",
        "time": "Time", "policy_version": "Policy version", "next_page": "Older decisions",
        "no_entries": "No decision matches.", "any": "any",
        "approve": "Approve and post", "reject": "Reject", "why": "Why (the agent reads it)",
        "decided_by": "Decided by", "own_reply": "you wrote this reply: another approver decides it",
        "log": "Administration log", "who": "Who", "did": "What", "target": "On", "address": "From",
        "login": "Sign in", "login_hint": "Use your company account, or paste a token from your identity "
        "provider (for the demo: sav-bridge console token --role approver --sub you).",
        "login_oidc": "Sign in with your company account", "token": "Token", "login_token": "Sign in with this token",
        "no_token": "Sign in first: this page needs your company token (Authorization: Bearer …), which the "
        "sign-in proxy adds, or a console session.",
        "forbidden": "Your token does not give access to this page",
        "done": {"created": "Draft saved.", "activated": "Version activated: it is in force on every replica "
                 "within seconds.", "approved": "Approved: the reply is being posted.",
                 "rejected": "Rejected: the agent is told why."},
        "refused": "Refused",
    },
    "fr": {
        "title": "sav-bridge : politique de publication", "signed_in_as": "Connecté·e en tant que",
        "sign_out": "Se déconnecter",
        "nav": {"overview": "Politique", "new": "Nouvelle version", "audit": "Audit", "approvals": "Validations",
                "log": "Journal d'administration"},
        "active_policy": "Politique en vigueur", "rule": "Règle", "what": "Ce qu'elle cherche", "where": "Où",
        "action": "Ce qui se passe", "versions": "Versions", "status": "État", "author": "Auteur·rice",
        "comment": "Commentaire", "created": "Créée", "activated_by": "Activée par",
        "approvals": "Réponses en attente de validation", "ticket": "Ticket", "agent": "Agent",
        "rules": "Règles", "reply": "Réponse", "overdue": "en retard", "no_approvals": "Aucune réponse en attente.",
        "api": "La même chose, pour les scripts :",
        "actions": {"block": "jamais publiée", "require_dm": "seulement en DM", "hold": "soumise à validation",
                    "redact": "masquée", "warn": "publiée, avec un avertissement", "allow": "jamais signalée"},
        "outcomes": {"block": "bloquée", "require_dm": "seulement en DM", "hold": "soumise à validation",
                     "redact": "masquée", "warn": "publiée, avec un avertissement", "allow": "publiée telle quelle"},
        "statuses": {"active": "active", "draft": "brouillon", "retired": "retirée",
                     "pending": "en attente", "approved": "validée", "rejected": "refusée"},
        "version": "Version", "view": "Ouvrir", "edit_copy": "Modifier une copie", "yaml": "Texte de la politique (YAML)",
        "diff_against": "Changements depuis", "no_changes": "Aucune différence.",
        "activate": "Mettre en vigueur cette version", "rollback": "Revenir à cette version",
        "cannot_activate": "Vous ne pouvez pas mettre cette version en vigueur",
        "is_active": "Cette version est en vigueur.", "editor": "Nouvelle version de la politique",
        "editor_hint": "Les erreurs s'affichent pendant la saisie ; la version est enregistrée comme brouillon, "
        "un·e approbateur·rice la met en vigueur.",
        "save": "Enregistrer le brouillon", "problems": "Erreurs", "line": "ligne", "no_problems": "Aucune erreur.",
        "checking": "Vérification…",
        "test": "Tester cette version", "test_hint": "Rejoue des réponses avec cette version et avec celle en "
        "vigueur ; les décisions qui changeraient viennent en premier.",
        "paste": "Coller des réponses (une par ligne)", "last_days": "Les réponses des derniers jours (de l'audit)",
        "days": "jours", "audience": "Public", "audiences": {"public": "réponse publique", "dm": "message privé"},
        "run_test": "Lancer le test", "tested": "réponses testées", "changed": "changeraient",
        "now": "En vigueur", "candidate": "Cette version", "progress": "Avancement",
        "audit": "Décisions de publication", "since": "Du", "until": "Au", "filter": "Filtrer",
        "csv": "Exporter en CSV", "time": "Heure", "policy_version": "Version de la politique",
        "next_page": "Décisions plus anciennes", "no_entries": "Aucune décision ne correspond.", "any": "toutes",
        "approve": "Valider et publier", "reject": "Refuser", "why": "Pourquoi (l'agent le lira)",
        "decided_by": "Décidée par", "own_reply": "vous avez écrit cette réponse : un·e autre la valide",
        "log": "Journal d'administration", "who": "Qui", "did": "Quoi", "target": "Sur", "address": "Depuis",
        "login": "Connexion", "login_hint": "Utilisez votre compte d'entreprise, ou collez un jeton de votre "
        "fournisseur d'identité (pour la démo : sav-bridge console token --role approver --sub vous).",
        "login_oidc": "Se connecter avec le compte d'entreprise", "token": "Jeton",
        "login_token": "Se connecter avec ce jeton",
        "no_token": "Connectez-vous d'abord : cette page demande le jeton de votre entreprise "
        "(Authorization: Bearer …), que le proxy de connexion ajoute, ou une session de la console.",
        "forbidden": "Votre jeton ne donne pas accès à cette page",
        "done": {"created": "Brouillon enregistré.", "activated": "Version mise en vigueur : toutes les "
                 "instances l'appliquent en quelques secondes.", "approved": "Validée : la réponse est publiée.",
                 "rejected": "Refusée : l'agent saura pourquoi."},
        "refused": "Refusé",
    },
}  # fmt: skip


def language(request: Request) -> str:
    """French when the browser prefers it to English, else English."""
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LABELS:
            return code
    return "en"
